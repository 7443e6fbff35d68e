"""The copy-paste examples of docs/guide/own-vae.md run as written: the plain loop with the classic VAE and the
Lightning example, on the real MNIST (only the data folder, the number of epochs and the evaluated epochs are
changed, and the training uses 10k of the images, so that the test takes about a minute)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from vaediag.store.rundir import Run

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "own-vae.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


def _edit(code: str, changes: dict[str, str]) -> str:
    for old, new in changes.items():
        assert old in code, f"the guide's example changed: {old!r} not found"
        code = code.replace(old, new)
    return code


@pytest.mark.mnist
def test_the_plain_loop_and_lightning_examples_run_as_written(tmp_path, mnist_root, monkeypatch):
    loop, lightning = _python_blocks()[:2]
    monkeypatch.chdir(tmp_path)
    root = repr(str(mnist_root))
    loop = _edit(loop, {  # 10k training images: the loop's own cost is not what is tested
        'datasets.MNIST("data", train=True, download=True, transform=transforms.ToTensor())':
            f"torch.utils.data.Subset(datasets.MNIST({root}, train=True, transform=transforms.ToTensor()), "
            f"range(10_000))",
                        'datasets.MNIST("data", train=False,': f"datasets.MNIST({root}, train=False,",
                        "range(1, 21)": "range(1, 3)", "(5, 10, 20)": "(2,)"})
    namespace: dict = {}
    exec(compile(loop, f"{GUIDE.name}: the plain loop", "exec"), namespace)
    run = Run(tmp_path / "runs" / "mine")
    assert run.epochs == [2] and list(run.history.index) == [1, 2]
    assert run.config["model"]["input"] == "flat" and run.config["user"] == {"lr": 1e-3, "batch_size": 128}
    assert run.history.loc[2, "test_loss"] < run.history.loc[1, "test_loss"]

    pytest.importorskip("lightning")
    lightning = _edit(lightning, {"max_epochs=20": "max_epochs=1, enable_progress_bar=False, logger=False",
                                  "epochs=(5, 10)": "epochs=()"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(lightning, f"{GUIDE.name}: the Lightning example", "exec"), namespace)
    lit = Run(tmp_path / "runs" / "lit")
    assert lit.epochs == [1] and list(lit.history.columns[lit.history.notna().any()]) == [
        "train_loss", "test_loss", "epoch_seconds"]
    assert lit.config["user"]["lr"] == 1e-3
