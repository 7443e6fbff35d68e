"""The thin CLI over evaluate / compare / classifier: output, files and one-line errors (exit code 2)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from vaediag import columns as C
from vaediag.cli import cli
from vaediag.train import TrainConfig, train

from fake_run import make_fake_run
from helpers import assert_one_line_error, synthetic_digits


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    cfg = TrainConfig(model="mlp", epochs=2, checkpoints=(1, 2), batch_size=64, device="cpu")
    train(cfg, run, data=synthetic_digits(), progress=False, log=lambda *_: None)
    return run


def test_evaluate_without_checkpoints(tmp_path):
    (tmp_path / "run").mkdir()
    assert_one_line_error(run_cli("evaluate", tmp_path / "run"), "has no checkpoints")


def test_evaluate_missing_run_dir(tmp_path):
    assert_one_line_error(run_cli("evaluate", tmp_path / "nope"), "not found")


def test_evaluate_missing_epoch_names_available(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    assert_one_line_error(run_cli("evaluate", run, "--epochs", "7"), "1,2")
    assert not (run / "metrics.csv").exists()


def test_evaluate_bad_format_and_epochs(trained):
    assert_one_line_error(run_cli("evaluate", trained, "--format", "xml"), "xml")
    assert_one_line_error(run_cli("evaluate", trained, "--epochs", "a,b"), "comma-separated")
    assert_one_line_error(run_cli("evaluate", trained, "--samples", "0"), "--samples")


def test_evaluate_corrupt_checkpoint_is_one_line_and_keeps_files(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "metrics.csv").write_text("previous results\n")
    ck = run / "checkpoints" / "epoch_002.pt"
    ck.write_bytes(ck.read_bytes()[:500])
    assert_one_line_error(run_cli("evaluate", run, "--epochs", "2"), "epoch_002.pt")
    assert (run / "metrics.csv").read_text() == "previous results\n"


def test_compare_cli_writes_tables_and_figure(tmp_path):
    a = make_fake_run(tmp_path / "a", seed=0)
    b = make_fake_run(tmp_path / "b", seed=1)
    res = run_cli("compare", a, b, "--out", tmp_path / "cmp")
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert set(df[C.RUN]) == {"a", "b"}
    assert (tmp_path / "cmp" / "comparison_seeds.csv").is_file()
    assert (tmp_path / "cmp" / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert "±" in res.stdout


def test_compare_cli_bad_run_is_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_cli("compare", tmp_path / "empty"), "has no config.json")


def test_classifier_evaluate_with_tampered_weights_is_one_line_error(tmp_path):
    from vaediag.datasets.classifier import INFO_FILE, WEIGHTS_DIR, WEIGHTS_FILE

    shutil.copy(WEIGHTS_DIR / INFO_FILE, tmp_path / INFO_FILE)
    (tmp_path / WEIGHTS_FILE).write_bytes(b"tampered")
    assert_one_line_error(run_cli("classifier", "evaluate", "--weights", tmp_path), "sha256")


@pytest.mark.mnist
def test_classifier_evaluate_prints_accuracy(mnist_root):
    res = run_cli("classifier", "evaluate", "--data-root", mnist_root, "--device", "cpu")
    assert res.exit_code == 0, res.output
    acc = float(res.stdout.split("test accuracy ")[1].split()[0])
    assert acc >= 0.993


def test_classifier_evaluate_takes_only_options_it_uses():
    res = run_cli("classifier", "evaluate", "--train-size", "100")
    assert_one_line_error(res, "No such option '--train-size'")


def test_classifier_train_never_writes_into_the_package(tmp_path, monkeypatch):
    from helpers import synthetic_digits

    from vaediag.datasets import classifier as clf
    from vaediag.datasets import data as data_mod

    package, user = tmp_path / "package", tmp_path / "user"
    package.mkdir()
    monkeypatch.setattr(clf, "WEIGHTS_DIR", package)
    monkeypatch.setattr(clf, "TRAINED_DIR", user)
    monkeypatch.setattr(data_mod, "load_dataset", lambda *a, **k: synthetic_digits())
    from vaediag.datasets import classifier_training

    monkeypatch.setattr(classifier_training, "train_classifier",
                        lambda data, **k: (clf.DigitClassifier(), {"test_accuracy": 0.5}))
    res = run_cli("classifier", "train", "--device", "cpu")
    assert res.exit_code == 0, res.output
    trained = user / "mnist"  # TRAINED_DIR/<dataset>
    assert list(package.iterdir()) == [] and (trained / clf.WEIGHTS_FILE).is_file() and (trained / clf.INFO_FILE).is_file()
    assert "~/.cache/vaediag/classifier" in run_cli("classifier", "train", "--help").stdout
