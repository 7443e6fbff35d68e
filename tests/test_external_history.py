"""External runs as first-class runs: the user's own per-epoch losses (``evaluate_model(history=...)``) become
history.csv and feed the report's Q3 and ``overfitting`` claims; ``compare`` uses the evaluation's test loss
when there is no training loss and says "unknown" for settings it does not know."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import vaediag
from vaediag import columns as C
from vaediag.claims import check_claims
from vaediag.compare import compare_runs, summarise_seeds
from vaediag.errors import ConfigError
from vaediag.evaluate.settings import EvalSettings
from vaediag.judgement.grouping import GROUP
from vaediag.report.questions import training_length_sentences
from vaediag.store.rundir import Run

import external_models as X
from eval_fixtures import one_thread, random_classifier  # noqa: F401  (one_thread: autouse)
from fake_run import make_fake_run
from helpers import synthetic_digits

SMALL = EvalSettings(samples=200, grid=3, iwae=2)
EPOCHS = 40


def _evaluate(run_dir, epoch, **kw):
    options = dict(settings=SMALL, data=synthetic_digits(), classifier=random_classifier(), decoder="logits",
                   log=lambda *_: None)
    options.update(kw)
    return vaediag.evaluate_model(kw.pop("model", None) or X.flat_vae(), run_dir, epoch, **options)


def _losses(shape: str) -> dict[str, list[float]]:
    """40 epochs of a training's losses: the test loss falls to epoch 10, then rises 0.5 nats/epoch ("rising")
    or keeps falling 0.5 nats/epoch ("falling"), with a fixed ±0.2 scatter; the train loss falls throughout."""
    epochs = np.arange(1, EPOCHS + 1)
    scatter = 0.2 * np.where(epochs % 2 == 0, 1.0, -1.0)
    late = 0.5 * np.maximum(epochs - 10, 0)
    test = 150 - 3.0 * np.minimum(epochs, 10) + (late if shape == "rising" else -late) + scatter
    train = 150 - 3.5 * np.minimum(epochs, 10) - 0.8 * np.maximum(epochs - 10, 0)
    return {"train_loss": train.tolist(), "test_loss": test.tolist()}


def test_history_becomes_history_csv_and_later_calls_update_it(tmp_path):
    run_dir = tmp_path / "run"
    losses = _losses("rising")
    _evaluate(run_dir, 20, history={k: v[:20] for k, v in losses.items()})
    history = Run(run_dir).history
    assert list(history.index) == list(range(1, 21))
    np.testing.assert_array_equal(history[C.TEST_LOSS].to_numpy(), losses["test_loss"][:20])
    assert history[C.TRAIN_EVAL_LOSS].isna().all()  # not given: not invented
    ev = _evaluate(run_dir, EPOCHS, history=losses)
    history = Run(run_dir).history
    assert list(history.index) == list(range(1, EPOCHS + 1))
    assert ev.metrics.loc[EPOCHS, C.TEST_LOSS] == pytest.approx(losses["test_loss"][-1])  # joined into metrics.csv
    assert ev.metrics.loc[20, C.TRAIN_LOSS] == pytest.approx(losses["train_loss"][19])
    # a mapping epoch -> value, and a DataFrame, say the same; the epochs given replace the recorded ones
    _evaluate(run_dir, EPOCHS, history={"test_loss": {5: 99.0}})
    history = Run(run_dir).history
    assert history.loc[5, C.TEST_LOSS] == 99.0 and math.isnan(history.loc[5, C.TRAIN_LOSS])
    frame = pd.DataFrame({"epoch": [5], "test_loss": [98.0], "epoch_seconds": [1.5]})
    _evaluate(run_dir, EPOCHS, history=frame)
    assert Run(run_dir).history.loc[5, C.EPOCH_SECONDS] == 1.5
    # losses appended as they come: 0-d tensors (with grad) and numpy scalars
    import torch

    _evaluate(run_dir, EPOCHS, history={"train_loss": {6: torch.tensor(97.0, requires_grad=True) * 1.0},
                                        "test_loss": {6: np.float32(96.5)}})
    assert Run(run_dir).history.loc[6, [C.TRAIN_LOSS, C.TEST_LOSS]].tolist() == [97.0, 96.5]


@pytest.mark.parametrize("history, fragment", [
    ({"train_los": [1.0]}, "unknown column 'train_los'"),
    ({"test_loss": [1.0, -2.0]}, "test_loss = -2.0 at epoch 2 is outside its documented range"),
    ({"test_loss": {0: 1.0}}, "epochs must be integers >= 1, got 0"),
    ({"test_loss": [1.0, "x"]}, "at epoch 2: 'x' is not a number"),
    ({"test_loss": [float("inf")]}, "at epoch 1 is infinite"),
    ({"test_loss": 3.0}, "must be a list"),
    ([1.0, 2.0], "history must be a non-empty mapping"),
])
def test_a_bad_history_is_one_line_and_writes_nothing(tmp_path, history, fragment):
    with pytest.raises(ConfigError) as err:
        _evaluate(tmp_path / "run", 1, history=history)
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("shape, words, verdict", [
    ("rising", "the test loss rises, training longer hurts (overfitting)", "supported"),
    ("falling", "the test loss keeps falling, training longer helps", "refuted"),
])
def test_the_users_losses_answer_q3_and_overfitting_claims(tmp_path, shape, words, verdict):
    run_dir = tmp_path / shape
    losses = _losses(shape)
    _evaluate(run_dir, 10, history={k: v[:10] for k, v in losses.items()})
    _evaluate(run_dir, EPOCHS, history=losses)
    run = Run(run_dir)
    q3 = " ".join(s.plain() for s in training_length_sentences(run))
    assert "No training history" not in q3 and words in q3
    # an independent slope of the last 20 epochs, against the report's sign
    y = np.array(losses["test_loss"][-20:])
    slope = np.polyfit(np.arange(21, EPOCHS + 1), y, 1)[0]
    assert (slope > 0) == (shape == "rising") and abs(abs(slope) - 0.5) < 0.05
    table = check_claims([{"text": "it overfits after 10", "kind": "overfitting", "after": 10}], run_dir)
    row = table.iloc[0]
    assert row.verdict == verdict and "external run" not in row.explanation
    assert "test loss" in row.measured and "at epoch 10" in row.measured


def test_without_history_q3_and_claims_still_say_why(tmp_path):
    _evaluate(tmp_path / "run", 1)
    q3 = " ".join(s.plain() for s in training_length_sentences(Run(tmp_path / "run")))
    assert "No training history" in q3 and "history=" in q3
    row = check_claims([{"text": "x", "kind": "overfitting", "after": 1}], tmp_path / "run").iloc[0]
    assert row.verdict == "inconclusive" and "history=" in row.explanation


def test_compare_reads_the_evaluation_loss_and_says_unknown(tmp_path):
    own = make_fake_run(tmp_path / "own", epochs=(1, 2), scenario="healthy")
    _evaluate(tmp_path / "ext", 2)
    _evaluate(tmp_path / "ext_seeded", 2, config={"lr": 0.001, "batch_size": 128, "seed": 3, "note": "mine"})
    df = compare_runs([own, tmp_path / "ext", tmp_path / "ext_seeded"])
    ext = df.xs("ext", level=C.RUN)
    evaluated = Run(tmp_path / "ext").metrics.loc[2, C.EVAL_LOSS]
    assert ext.loc[2, C.TEST_LOSS] == pytest.approx(evaluated)  # no training loss: the evaluation's
    own_history = Run(own).history
    assert df.xs("own", level=C.RUN).loc[2, C.TEST_LOSS] == pytest.approx(own_history.loc[2, C.TEST_LOSS])
    label = ext[GROUP].iloc[0]
    assert "unknown" in label and "=all" not in label.replace("train_size=all", "").replace("test_size=all", "")
    assert pd.isna(ext["seed"].iloc[0])  # the evaluation's seed is not a training seed
    seeded = df.xs("ext_seeded", level=C.RUN)
    assert seeded["seed"].iloc[0] == 3 and seeded["lr"].iloc[0] == 0.001 and seeded["batch_size"].iloc[0] == 128
    summary = summarise_seeds(df)
    assert "unknown" in ",".join(summary["seeds"])


def test_an_external_run_with_history_reports_like_a_trained_one(tmp_path):
    """`vaediag report` on an external run with the user's losses: the loss figure is drawn from history.csv and
    the report quotes its test loss."""
    from click.testing import CliRunner

    from vaediag.cli import cli

    losses = _losses("falling")
    _evaluate(tmp_path / "run", EPOCHS, history=losses)
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "No training history" not in md and f"{losses['test_loss'][-1]:.1f} at epoch 40" in md
    assert (tmp_path / "run" / "figures" / "loss.png").is_file()
