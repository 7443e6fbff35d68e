"""The training core: one run trains a VAE and writes every requested checkpoint.

The dataset lives as one float tensor on the training device; each epoch slices ``randperm`` batches
from it (no DataLoader, no per-epoch image decoding). One seeded ``torch.Generator`` drives both the
batch order and the reparameterisation noise, and its state is saved in every checkpoint, so a run that
is killed after epoch k and resumed ends bit-identical (on CPU) to one that was never interrupted.

Each epoch writes ``checkpoints/last.pt`` first, then the epoch's own checkpoint (if it is one), then
history.csv, each atomically. After each epoch the model is measured in eval mode on the test set and on a fixed
training subset of the same size (:func:`~vaediag.models.likelihood.train_eval_indices`, numpy-seeded from the run's
seed, so it draws nothing from the torch generator and training stays bit-identical to a run that does not
measure it): history.csv ``test_*`` and ``train_eval_*``, next to the running ``train_*`` means. ``last.pt`` holds everything the other two are made of, so resuming after
a kill anywhere in between restores a missing epoch checkpoint and a short history.csv from it. The run
holds the RUN_DIR lock (:meth:`Run.lock`) from start to end and first removes stale temporaries.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from . import columns as C
from vaediag.files.atomic import WriteError
from vaediag.models.checkpoint import FORMAT, read_state, save_state
from vaediag.datasets.registry import class_names
from vaediag.models.train_config import RESUME_INVARIANTS, TrainConfig
from vaediag.datasets.data import MNISTData, load_dataset
from .devices import resolve_device
from .errors import CheckpointError, ConfigError, RunDirError, TrainingDivergedError, VaediagError, first_line
from vaediag.models.likelihood import evaluate_elbo, train_eval_indices
from vaediag.models.nets import VAE, build_model
from vaediag.store.rundir import Run, history_frame
from .versions import versions


def _resume_state(run: Run, resume: bool) -> dict | None:
    """The validated ``last.pt`` to resume from, or None for a fresh run; refuse a RUN_DIR that holds
    something else (nothing in it is touched)."""
    last = run.last_checkpoint_path
    if resume and last.is_file():
        return read_state(last, resumable=True)
    if run.is_empty():
        return None
    if not resume:
        raise RunDirError(f"RUN_DIR {run.path} is not empty; pass --resume to continue that run, or choose a new --out")
    epochs = run.checkpoints()
    if epochs or run.history_path.exists():
        found = ", ".join(([f"{len(epochs)} epoch checkpoint(s)"] if epochs else [])
                          + ([run.history_path.name] if run.history_path.exists() else []))
        hint = (f"; {run.checkpoint_path(max(epochs)).name} holds a full state: copy it to {last} to resume "
                f"from epoch {max(epochs)}" if epochs else "")
        raise RunDirError(f"cannot resume {run.path}: {last} is missing (found {found}); nothing was changed{hint}")
    if not run.has_config():
        raise RunDirError(f"RUN_DIR {run.path} is not empty and holds no vaediag run; choose a new --out")
    return None  # only config.json: killed before the first epoch ended, so start from the beginning


def _check_resume_compatible(state: dict, cfg: TrainConfig, run: Run) -> None:
    new = cfg.to_dict()
    saved = TrainConfig.from_dict(state["train_config"]).to_dict()
    diff = [k for k in RESUME_INVARIANTS if saved.get(k) != new.get(k)]
    if diff:
        pairs = ", ".join(f"{k}: saved {saved.get(k)!r} vs now {new.get(k)!r}" for k in diff)
        raise ConfigError(f"cannot resume with different settings ({pairs})")
    if state["epoch"] > cfg.epochs:
        raise ConfigError(f"{run.path} is already trained to epoch {state['epoch']}; "
                          f"--epochs {cfg.epochs} cannot shorten it")


def _saved_note(saved_epoch: int) -> str:
    return f"the last good checkpoint is epoch {saved_epoch}" if saved_epoch else "no checkpoint was written"


def _write(path: Path, write: Callable[[], None], saved_epoch: int) -> None:
    """Run ``write`` (of ``path``); a failure (full disk, read-only folder) becomes a one-line error that
    says which checkpoint is the last good one."""
    try:
        write()
    except WriteError as exc:  # already names the file and the reason
        raise RunDirError(f"{exc}; {_saved_note(saved_epoch)}") from None
    except OSError as exc:
        reason = exc.strerror or first_line(exc)
        raise RunDirError(f"cannot write {path}: {reason}; {_saved_note(saved_epoch)}") from None
    except CheckpointError as exc:
        raise CheckpointError(f"{exc}; {_saved_note(saved_epoch)}") from None


def _repair_from_state(run: Run, state: dict, cfg: TrainConfig, log: Callable[[str], None]) -> None:
    """After a kill between the writes of an epoch: restore its checkpoint and history.csv from last.pt."""
    epoch, rows = state["epoch"], state["history"]
    path = run.checkpoint_path(epoch)
    if epoch in cfg.checkpoints and not path.is_file():
        _write(path, lambda: save_state(path, state), epoch)
        log(f"restored {path} from {run.last_checkpoint_path}")
    try:
        on_disk = list(run.read_history().index)
    except VaediagError:
        on_disk = None
    if on_disk != [r[C.EPOCH] for r in rows]:
        _write(run.history_path, lambda: run.write_history(history_frame(rows)), epoch)
        log(f"repaired {run.history_path} from {run.last_checkpoint_path} ({len(rows)} epochs)")


def _write_config(run: Run, config: dict, saved_epoch: int) -> None:
    try:
        unchanged = run.has_config() and run.read_config() == config
    except VaediagError:
        unchanged = False
    if not unchanged:
        _write(run.config_path, lambda: run.write_config(config), saved_epoch)


class _Progress:
    """What a terminal shows: one bar over all epochs (with ETA) above a bar over each epoch's batches,
    log lines printed above the bars. Disabled: only the log lines."""

    def __init__(self, enabled: bool, first: int, last: int, log: Callable[[str], None]):
        self.log = log
        self.bar = None
        if enabled and first <= last:
            from tqdm.auto import tqdm

            self.tqdm = tqdm
            self.bar = tqdm(total=last, initial=first - 1, desc="epochs", unit="epoch", position=0,
                            dynamic_ncols=True)

    def batch_desc(self, epoch: int, last: int) -> str | None:
        return f"epoch {epoch}/{last}" if self.bar is not None else None

    def say(self, msg: str) -> None:
        if self.bar is None:
            self.log(msg)
            return
        with self.tqdm.external_write_mode(file=sys.stderr):
            self.log(msg)

    def advance(self, test_loss: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix(test=f"{test_loss:.2f}", refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress(iterable, total: int, desc: str | None):
    """Wrap in a tqdm bar when ``desc`` is given (a terminal), else return the iterable unchanged."""
    if desc is None:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True, position=1)


def make_optimizer(model: VAE, lr: float) -> torch.optim.Optimizer:
    """Adam with the fused kernel (one op per step instead of a dozen per tensor; about 2 ms less per
    MLP step on CPU). Same algorithm and hyper-parameters as ``torch.optim.Adam(params, lr)``."""
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True)


def train_one_epoch(
    model: VAE,
    optimizer: torch.optim.Optimizer,
    train_x: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    progress_desc: str | None = None,
) -> tuple[float, float, float]:
    """One pass over ``train_x`` (float [N, 1, 28, 28] on the model's device) in ``randperm`` batches.

    Returns the per-sample means (loss, recon, kl) in nats. Losses are accumulated on the device, so
    there is no host synchronisation inside the loop (important on CUDA).
    """
    model.train()
    n = len(train_x)
    sums = torch.zeros(3, dtype=torch.float64, device=train_x.device)
    perm = torch.randperm(n, generator=generator, device=train_x.device)
    batches = (perm[i : i + batch_size] for i in range(0, n, batch_size))
    for idx in _progress(batches, math.ceil(n / batch_size), progress_desc):
        out = model(train_x[idx], generator=generator)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        sums += torch.stack([out.loss.detach(), out.recon.detach(), out.kl.detach()]).double() * len(idx)
    loss, recon, kl = (sums / n).tolist()
    return loss, recon, kl


def train(
    cfg: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    log: Callable[[str], None] = print,
    progress: bool | None = None,
    data=None,
) -> pd.DataFrame:
    """Train (or resume) a run into ``run_dir``; return the history DataFrame indexed by epoch.

    ``progress=None`` shows progress bars when stderr is a terminal and logs one line per epoch otherwise.
    ``data`` (an ``MNISTData``) replaces loading ``cfg.dataset``, e.g. for tests on synthetic digits. Holds the
    RUN_DIR lock throughout: a second writer of the same RUN_DIR is refused (:class:`RunDirError`).
    """
    cfg.validate()
    run = Run(run_dir)
    run.check_directory()
    with run.writing("train", create=True):
        return _train_locked(cfg, run, resume, log, sys.stderr.isatty() if progress is None else progress, data)


def _train_locked(cfg: TrainConfig, run: Run, resume: bool, log: Callable[[str], None], progress: bool,
                  data: MNISTData | None) -> pd.DataFrame:
    state = _resume_state(run, resume)
    if state is not None:
        _check_resume_compatible(state, cfg, run)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model_config).to(device)
    optimizer = make_optimizer(model, cfg.lr)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    history: list[dict] = []
    saved_epoch = 0  # the epoch last.pt holds
    if state is not None:
        try:
            model.load_state_dict(state["model_state"])
            optimizer.load_state_dict(state["optimizer_state"])
            gen.set_state(state["rng"]["generator"].cpu())
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise CheckpointError(f"cannot resume from {run.last_checkpoint_path}: {first_line(exc)}") from None
        history = [dict(r) for r in state["history"]]
        saved_epoch = state["epoch"]
        _repair_from_state(run, state, cfg, log)
    if data is None:
        data = load_dataset(cfg.dataset, cfg.data_root, train_size=cfg.train_size, test_size=cfg.test_size,
                            seed=cfg.seed, device=device, log=log)
    train_x = MNISTData.to_float(data.train_images.to(device))
    test_x = MNISTData.to_float(data.test_images.to(device))
    # the fixed training subset measured like the test set after each epoch (numpy-seeded: training is unchanged)
    subset = torch.as_tensor(train_eval_indices(len(train_x), len(test_x), cfg.seed), device=device)
    train_eval_x = train_x[subset]

    _write_config(run, {"dataset": cfg.dataset, "model": cfg.model_config.to_dict(), "train": cfg.to_dict(),
                        "device": str(device),
                        "n_train": len(train_x), "n_test": len(test_x), "versions": versions()}, saved_epoch)
    if saved_epoch >= cfg.epochs:
        log(f"{run.path}: already trained to epoch {saved_epoch}; nothing to do")
        return history_frame(history)
    m, classes = cfg.model_config, class_names(cfg.dataset)
    log(f"training {m.model} (latent {m.latent_dim}) on {device}: {len(train_x)} {classes.title} {classes.item}s, "
        f"epochs {saved_epoch + 1}-{cfg.epochs}" + (f" (resuming {run.path} after epoch {saved_epoch})" if state else ""))

    bars = _Progress(progress, saved_epoch + 1, cfg.epochs, log)
    try:
        for epoch in range(saved_epoch + 1, cfg.epochs + 1):
            t0 = time.perf_counter()
            train_loss, train_recon, train_kl = train_one_epoch(model, optimizer, train_x, cfg.batch_size, gen,
                                                                bars.batch_desc(epoch, cfg.epochs))
            noise_seed = (cfg.seed * 1_000_003 + epoch) % 2**64
            test = evaluate_elbo(model, test_x, seed=noise_seed)
            # the same seeded noise as the test ELBO: the gap between the two is not blurred by noise draws
            train_eval = evaluate_elbo(model, train_eval_x, seed=noise_seed)
            seconds = time.perf_counter() - t0
            if not all(math.isfinite(v) for v in (train_loss, test["loss"])):
                raise TrainingDivergedError(
                    f"loss became {train_loss if not math.isfinite(train_loss) else test['loss']} at epoch {epoch}; "
                    f"training stopped, {_saved_note(saved_epoch)} (try a smaller --lr)")
            row = {C.EPOCH: epoch, C.TRAIN_LOSS: train_loss, C.TRAIN_RECON: train_recon, C.TRAIN_KL: train_kl,
                   C.TRAIN_EVAL_LOSS: train_eval["loss"], C.TRAIN_EVAL_RECON: train_eval["recon"],
                   C.TRAIN_EVAL_KL: train_eval["kl"],
                   C.TEST_LOSS: test["loss"], C.TEST_RECON: test["recon"], C.TEST_KL: test["kl"],
                   C.EPOCH_SECONDS: seconds}
            history.append(row)
            ckpt = {
                "format": FORMAT,
                "epoch": epoch,
                "model_config": cfg.model_config.to_dict(),
                "train_config": cfg.to_dict(),
                "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizer_state": optimizer.state_dict(),
                "rng": {"generator": gen.get_state().cpu(), "torch_cpu": torch.get_rng_state()},
                "history": history,
            }
            _write(run.last_checkpoint_path, lambda: save_state(run.last_checkpoint_path, ckpt), saved_epoch)
            saved_epoch = epoch
            if epoch in cfg.checkpoints:
                path = run.checkpoint_path(epoch)
                _write(path, lambda: save_state(path, ckpt), saved_epoch)
            _write(run.history_path, lambda: run.write_history(history_frame(history)), saved_epoch)
            bars.advance(test["loss"])
            bars.say(f"epoch {epoch:3d}/{cfg.epochs}  train {train_loss:8.3f}  test {test['loss']:8.3f} "
                     f"(recon {test['recon']:.3f}, kl {test['kl']:.3f})  {seconds:5.1f}s"
                     + ("  [checkpoint]" if epoch in cfg.checkpoints else ""))
    finally:
        bars.close()
    return history_frame(history)
