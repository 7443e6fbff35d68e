"""Diagnosing a model from a training loop must not change the training: :func:`untouched`.

Everything the user's loop can observe is snapshotted before an evaluation and put back afterwards, whatever
happens inside (an exception included):

- the random generators: torch's CPU generator, every CUDA device's generator (when CUDA is in use or about to
  be), numpy's global generator (``np.random``) and Python's :mod:`random`; vaediag's own draws use generators of
  their own, this is the belt for the code it calls (building a network draws its initial weights from torch's
  global generator, for example);
- the train / eval mode of every sub-module of the model (not only the top one: a user who froze a BatchNorm in
  eval mode inside a model in train mode keeps it so);
- torch's grad mode and its number of threads.

The parameters and buffers are never written (the evaluation runs in eval mode under ``torch.inference_mode``);
``tests/test_isolation.py`` trains a loop with and without the evaluations and compares the weights bit for bit.
:func:`eval_mode` is the model half alone (what :func:`vaediag.models.protocol.check_model`'s probe uses).
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import torch


def _cuda_states(device: torch.device | None) -> list[torch.Tensor] | None:
    """Every CUDA generator's state when CUDA is in use (or the evaluation is about to use it), else None."""
    if not torch.cuda.is_available():
        return None
    if not torch.cuda.is_initialized():
        if device is None or device.type != "cuda":
            return None  # CUDA stays untouched by a CPU evaluation
        torch.cuda.init()  # what the user's first CUDA call would do (the lazy seeding of manual_seed included)
    return torch.cuda.get_rng_state_all()


def module_modes(model: Any) -> list[tuple[Any, bool]]:
    """(module, training flag) of ``model`` and every sub-module (``model.modules()``), or of ``model`` alone
    when it is no ``nn.Module`` but has a ``training`` flag; [] otherwise."""
    modules = getattr(model, "modules", None)
    if callable(modules):
        try:
            return [(m, m.training) for m in modules() if isinstance(getattr(m, "training", None), bool)]
        except TypeError:  # a ``modules`` attribute that is not nn.Module's
            pass
    return [(model, model.training)] if isinstance(getattr(model, "training", None), bool) else []


def restore_modes(modes: list[tuple[Any, bool]]) -> None:
    """Set each module's own training flag back (``train(mode)`` would recurse into its children)."""
    for module, mode in modes:
        if module.training != mode:
            try:
                module.training = mode
            except AttributeError:  # a read-only flag: the module's own switch
                module.train(mode)


@contextmanager
def eval_mode(model: Any) -> Iterator[Any]:
    """``model`` in eval mode for the block; each sub-module's mode restored afterwards."""
    modes = module_modes(model)
    if callable(getattr(model, "eval", None)):
        model.eval()
    try:
        yield model
    finally:
        restore_modes(modes)



@contextmanager
def untouched(model: Any = None, device: torch.device | None = None) -> Iterator[None]:
    """Run the block, then restore the random generators, ``model``'s (and each sub-module's) train / eval
    mode, torch's grad mode and thread count as they were before it. ``device``: the device the block will
    evaluate on (a CUDA device: its generators are saved even if CUDA was not initialised yet)."""
    cpu = torch.get_rng_state()
    cuda = _cuda_states(device)
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    modes = module_modes(model) if model is not None else []
    grad, threads = torch.is_grad_enabled(), torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        np.random.set_state(numpy_state)
        random.setstate(python_state)
        restore_modes(modes)
        torch.set_grad_enabled(grad)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
