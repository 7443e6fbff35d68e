"""Claims for a run of any length: ``epoch = "first"`` / ``"last"`` and ``epochs = ["first", "last"]`` name the
run's first / last checkpoint; the shipped examples fit a 5-epoch study or say which run they are written for."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from vaediag.claims import check_claims, load_claims
from vaediag.claims.commands import require_epochs
from vaediag.claims.schema import ClaimsError, parse_claims
from vaediag.cli import cli
from vaediag.errors import ConfigError

from fake_run import make_fake_run
from helpers import assert_one_line_error

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_fake_run(tmp_path_factory.mktemp("places") / "run", epochs=(5, 15, 30), scenario="healthy")


def test_first_and_last_resolve_to_the_runs_checkpoints(run):
    by_place = check_claims([
        {"text": "1 is compact at the end", "kind": "separated", "epoch": "last", "digits": [1]},
        {"text": "sharper", "kind": "quality", "epochs": ["first", "last"], "direction": "improves"},
        {"text": "kNN", "kind": "metric", "column": "knn_accuracy", "epochs": ["first", 15, "last"],
         "operator": ">", "value": 0.5},
    ], run)
    by_number = check_claims([
        {"text": "1 is compact at the end", "kind": "separated", "epoch": 30, "digits": [1]},
        {"text": "sharper", "kind": "quality", "epochs": [5, 30], "direction": "improves"},
        {"text": "kNN", "kind": "metric", "column": "knn_accuracy", "epochs": [5, 15, 30], "operator": ">",
         "value": 0.5},
    ], run)
    assert list(by_place.epochs) == ["30", "5 → 30", "5, 15, 30"]
    pd.testing.assert_frame_equal(by_place.drop(columns="evidence"), by_number.drop(columns="evidence"))


@pytest.mark.parametrize("entry, fragment", [
    ({"epoch": "middle"}, 'must be an integer >= 1, "first" or "last", got \'middle\''),
    ({"epochs": ["last", "first"], "kind": "quality"}, "distinct and ascending"),
    ({"epochs": ["first", 5, "first"], "kind": "metric"}, "distinct and ascending"),
])
def test_a_bad_place_is_a_one_line_error(entry, fragment):
    claim = {"text": "x", "kind": "overlap", "digits": [3, 5], **entry}
    if claim["kind"] == "quality":
        claim = {"text": "x", "kind": "quality", "epochs": entry["epochs"], "direction": "improves"}
    elif claim["kind"] == "metric":
        claim = {"text": "x", "kind": "metric", "column": "silhouette", "epochs": entry["epochs"], "operator": ">",
                 "value": 0.1}
    with pytest.raises(ClaimsError) as err:
        parse_claims([claim])
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_first_and_last_on_a_run_with_one_checkpoint(tmp_path):
    one = make_fake_run(tmp_path / "one", epochs=(5,), scenario="healthy")
    row = check_claims([{"text": "x", "kind": "overlap", "epoch": "first", "digits": [3, 5]}], one).iloc[0]
    assert row.epochs == "5"
    with pytest.raises(ClaimsError, match=r"\['first', 'last'\] are the checkpoints \[5, 5\]: the epochs must be "
                                          r"distinct and ascending \(checkpoints: 5\)"):
        check_claims([{"text": "x", "kind": "quality", "epochs": ["first", "last"], "direction": "improves"}], one)


def test_the_fashion_example_fits_a_five_epoch_study_and_the_mnist_example_says_its_run():
    require_epochs(load_claims(EXAMPLES / "claims-fashion.toml"), (5,))  # accepted: "last" is epoch 5
    with pytest.raises(ConfigError, match="claim 2 .*field 'epoch': epoch 15 has no checkpoint"):
        require_epochs(load_claims(EXAMPLES / "claims.toml"), (5,))
    text = (EXAMPLES / "claims.toml").read_text(encoding="utf-8")
    assert "Written for that 100-epoch study" in text and 'epoch = "last"' in text


def test_study_refuses_the_100_epoch_examples_on_a_short_run_before_training(tmp_path):
    res = CliRunner().invoke(cli, ["study", "--epochs", "5", "--out", str(tmp_path / "s"), "--claims",
                                   str(EXAMPLES / "claims.toml")])
    assert_one_line_error(res, "epoch 15 has no checkpoint (checkpoints: 5)")
    assert not (tmp_path / "s").exists()


@pytest.mark.mnist
def test_a_five_epoch_fashion_study_checks_the_shipped_fashion_claims(tmp_path, fashion_root):
    """The command the examples name, on a 5-epoch study (600 training / 200 test images, small evaluation)."""
    out = tmp_path / "fashion"
    res = CliRunner().invoke(cli, ["study", "--dataset", "fashion-mnist", "--epochs", "5", "--out", str(out),
                                   "--claims", str(EXAMPLES / "claims-fashion.toml"), "--train-size", "600",
                                   "--test-size", "200", "--samples", "300", "--grid", "4", "--iwae", "0",
                                   "--device", "cpu", "--data-root", str(fashion_root)])
    assert res.exit_code == 0, res.output
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "Shirt and T-shirt/top are mixed at the end of training" in md
    res = CliRunner().invoke(cli, ["check", str(EXAMPLES / "claims-fashion.toml"), str(out), "--format", "csv"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(pd.io.common.StringIO(res.stdout))
    assert len(table) == 4 and set(table.epochs.astype(str)) == {"5"}
