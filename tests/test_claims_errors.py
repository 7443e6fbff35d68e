"""Bad claims files: one-line errors naming the claim and the field, exit code 2, nothing written (the CLI's
--out file is not created and an un-evaluated RUN_DIR is not evaluated); the API raises ClaimsError."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from vaediag.claims import ClaimsError, check_claims, load_claims
from vaediag.cli import cli
from vaediag.errors import ConfigError

from fake_run import make_fake_run
from helpers import assert_one_line_error

GOOD = '''
[[claim]]
text = "digits 3, 5 and 8 overlap"
kind = "overlap"
epoch = 5
digits = [3, 5, 8]
'''
CASES = {  # name -> (file text, fragment of the one-line error)
    "unknown kind": (GOOD + '\n[[claim]]\ntext = "it is blurry"\nkind = "blurry"\nepoch = 5\n',
                     "claim 2 ('it is blurry'): field 'kind': unknown kind 'blurry'"),
    "digit 11": ('[[claim]]\nid = "q2"\ntext = "4 and 11 are mixed"\nkind = "mixed_pair"\nepoch = 5\n'
                 'digits = [4, 11]\n', "claim 1 ('q2'): field 'digits': 11 is not a class 0-9"),
    "missing field": ('[[claim]]\ntext = "it overfits"\nkind = "overfitting"\n',
                      "claim 1 ('it overfits'): field 'after': missing (required for kind 'overfitting')"),
    "missing text": ('[[claim]]\nkind = "mode_collapse"\nepoch = 5\n', "claim 1: field 'text': missing"),
    "toml syntax": (GOOD + '\n[[claim]]\ntext = "unterminated\n', "TOML syntax error"),
    "unknown field": ('[[claim]]\ntext = "t"\nkind = "overlap"\nepoch = 5\ndigits = 3\ncolour = "red"\n',
                      "claim 1 ('t'): field 'colour': unknown field for kind 'overlap'"),
    "bad setting": ('[settings]\nmissing_share = 2\n' + GOOD, "[settings]: missing_share must lie in [0, 1]"),
    "bad direction": ('[[claim]]\ntext = "t"\nkind = "quality"\nepochs = [1, 5]\ndirection = "up"\n',
                      "field 'direction': must be one of 'improves', 'worsens'"),
    "unknown column": ('[[claim]]\ntext = "t"\nkind = "metric"\ncolumn = "sharpness"\nepoch = 5\noperator = ">"\n'
                       'value = 1\n', "claim 1 ('t'): field 'column': unknown column 'sharpness'"),
    "epochs order": ('[[claim]]\ntext = "t"\nkind = "diversity"\nepochs = [5, 1]\ndirection = "improves"\n',
                     "field 'epochs': epochs must be distinct and ascending"),
}
TARGET_CASES = {  # errors that need the target: name -> (file text, fragment)
    "epoch not checkpointed": ('[[claim]]\ntext = "collapsed at 7"\nkind = "mode_collapse"\nepoch = 7\n',
                               "claim 1 ('collapsed at 7'): field 'epoch': epoch 7 is not a checkpoint of"),
    "after not in history": ('[[claim]]\ntext = "overfits"\nkind = "overfitting"\nafter = 99\n',
                             "field 'after': epoch 99 is not in"),
    "not a numeric column": ('[[claim]]\ntext = "t"\nkind = "metric"\ncolumn = "most_mixed_pair"\nepoch = 5\n'
                             'operator = ">"\nvalue = 1\n',
                             "field 'column': 'most_mixed_pair' is not a numeric metrics.csv column"),
    "config selects nothing": (GOOD.replace("digits = [", 'config = { latent_dim = 16 }\ndigits = ['),
                               "field 'config': {'latent_dim': 16} matches no configuration"),
}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    return make_fake_run(tmp_path_factory.mktemp("claims_err") / "run", epochs=(1, 3, 5), write_artifacts=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_files_one_line_error_exit_2_nothing_written(tmp_path, evaluated, name):
    text, fragment = CASES[name]
    path = tmp_path / "claims.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ClaimsError) as info:
        load_claims(path)
    assert isinstance(info.value, ConfigError) and "\n" not in str(info.value)
    assert str(info.value).startswith(f"{path}: ") and fragment in str(info.value)
    out = tmp_path / "out.txt"
    res = CliRunner().invoke(cli, ["check", str(path), str(evaluated), "--out", str(out)])
    assert_one_line_error(res, fragment)
    assert not out.exists()


def test_toml_error_names_its_line(tmp_path, evaluated):
    path = tmp_path / "claims.toml"
    path.write_text(CASES["toml syntax"][0], encoding="utf-8")
    with pytest.raises(ClaimsError, match=r"line \d+"):
        load_claims(path)


@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_claims_invalid_for_the_target(tmp_path, evaluated, name):
    text, fragment = TARGET_CASES[name]
    path = tmp_path / "claims.toml"
    path.write_text(text, encoding="utf-8")
    before = {p.name: p.stat().st_mtime_ns for p in evaluated.iterdir()}
    res = CliRunner().invoke(cli, ["check", str(path), str(evaluated), "--out", str(tmp_path / "out.md")])
    assert_one_line_error(res, fragment)
    assert not (tmp_path / "out.md").exists()
    assert {p.name: p.stat().st_mtime_ns for p in evaluated.iterdir()} == before
    with pytest.raises(ClaimsError, match="claim 1"):
        check_claims(path, evaluated)


def test_epoch_error_lists_the_checkpoints_and_evaluates_nothing(tmp_path, evaluated):
    """An un-evaluated run with checkpoints: a claim at a non-checkpoint epoch fails before any evaluation."""
    run = tmp_path / "run"
    shutil.copytree(evaluated, run)
    for name in ("metrics.csv", "per_class.csv", "pairs.csv", "evaluation.json"):
        (run / name).unlink()
    shutil.rmtree(run / "eval")
    (run / "checkpoints").mkdir()
    for e in (1, 3, 5):
        (run / "checkpoints" / f"epoch_{e:03d}.pt").write_bytes(b"not read")
    with pytest.raises(ClaimsError, match=r"epoch 7 is not a checkpoint of .* \(checkpoints: 1, 3, 5\)"):
        check_claims([{"text": "collapsed", "kind": "mode_collapse", "epoch": 7}], run)
    assert not (run / "metrics.csv").exists() and not (run / "eval").exists()


def test_list_input_errors_name_the_claim():
    with pytest.raises(ClaimsError, match=r"^claims: claim 2 \('x'\): field 'digits': 11 is not a class 0-9 or a class name$"):
        check_claims([{"text": "ok", "kind": "bottleneck"},
                      {"text": "x", "kind": "rare", "epoch": 1, "digits": [11]}], "/nonexistent")


def test_check_runs_and_exits_0_whatever_the_verdicts(tmp_path, evaluated):
    path = tmp_path / "claims.toml"
    path.write_text('[[claim]]\ntext = "it collapsed"\nkind = "mode_collapse"\nepoch = 5\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["check", str(path), str(evaluated), "--format", "md"])
    assert res.exit_code == 0, res.output
    assert "| refuted |" in res.stdout
    out = tmp_path / "out.json"
    res = CliRunner().invoke(cli, ["check", str(path), str(evaluated), "--format", "json", "--out", str(out)])
    assert res.exit_code == 0 and out.is_file() and '"verdict": "refuted"' in out.read_text()


def test_missing_claims_file(tmp_path, evaluated):
    res = CliRunner().invoke(cli, ["check", str(tmp_path / "nope.toml"), str(evaluated)])
    assert_one_line_error(res, "nope.toml: cannot read the claims file")


def test_target_that_is_no_run(tmp_path):
    path = tmp_path / "claims.toml"
    path.write_text(GOOD, encoding="utf-8")
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(cli, ["check", str(path), str(tmp_path / "empty")])
    assert_one_line_error(res, "is neither a vaediag run directory")
