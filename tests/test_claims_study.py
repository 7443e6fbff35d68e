"""`vaediag check` on a REAL tiny run (real MNIST, 4 epochs, small evaluation settings): the run is trained but
not evaluated, so the check evaluates the checkpoints the claims need; then every number a claim quotes from a
table (``evidence``) is read back here from the CSV files with pandas and must be that cell, written in
``measured`` the way the report writes it; derived numbers are recomputed where they have a closed form."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from vaediag.claims import check_claims
from vaediag.cli import cli
from vaediag.models.train_config import TrainConfig
from vaediag.evaluate.settings import EvalSettings
from vaediag.judgement.formats import format_number

SETTINGS = EvalSettings(samples=1000, grid=6, iwae=0)
CLAIMS = [
    {"text": "at epoch 2 the 3s, 5s and 8s overlap", "kind": "overlap", "epoch": 2, "digits": [3, 5, 8]},
    {"text": "1 forms a compact cluster at 4", "kind": "separated", "epoch": 4, "digits": [1]},
    {"text": "4 and 9 are mixed", "kind": "mixed_pair", "epoch": 4, "digits": [4, 9]},
    {"text": "no 2s in the grid", "kind": "missing", "epoch": 4, "digits": [2], "source": "grid"},
    {"text": "few 5s", "kind": "rare", "epoch": 4, "digits": [5]},
    {"text": "too many 1s", "kind": "overrepresented", "epoch": 4, "digits": [1], "source": "qgrid"},
    {"text": "collapsed", "kind": "mode_collapse", "epoch": 4},
    {"text": "sharper", "kind": "quality", "epochs": [2, 4], "direction": "improves"},
    {"text": "more diverse", "kind": "diversity", "epochs": [2, 4], "direction": "improves"},
    {"text": "overfits after 2", "kind": "overfitting", "after": 2},
    {"text": "2-D is the bottleneck", "kind": "bottleneck"},
    {"text": "kNN above 60 %", "kind": "metric", "column": "knn_accuracy", "epoch": 4, "operator": ">",
     "value": 0.6},
]


@pytest.fixture(scope="module")
def checked(tmp_path_factory, mnist_root):
    import torch

    from vaediag.train import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = tmp_path_factory.mktemp("real") / "run"
        cfg = TrainConfig(epochs=4, checkpoints=(2, 4), train_size=2000, test_size=500, device="cpu",
                          data_root=str(mnist_root))
        train(cfg, run, log=lambda *_: None, progress=False)
        assert not (run / "metrics.csv").exists()
        df = check_claims(CLAIMS, run, eval_settings=SETTINGS)
    finally:
        torch.set_num_threads(threads)
    return run, df


def table_cell(run, table: str, column: str, epoch, key):
    df = pd.read_csv(run / table)
    if table == "history.csv":
        return float(df[df.epoch == epoch][column].iloc[0])
    if table == "pairs.csv":
        a, b = map(int, key.split("-"))
        return float(df[(df.epoch == epoch) & (df.class_a == a) & (df.class_b == b)][column].iloc[0])
    rows = df[(df.source == "model") & (df.epoch == epoch)]
    if table == "per_class.csv":
        rows = rows[rows["class"] == key]
    return float(rows[column].iloc[0])


@pytest.mark.mnist
def test_the_check_evaluated_the_run_and_answers_every_claim(checked):
    run, df = checked
    assert (run / "metrics.csv").is_file()
    assert sorted(pd.read_csv(run / "metrics.csv").query("source == 'model'").epoch) == [2, 4]
    assert list(df.claim) == list(range(1, len(CLAIMS) + 1))
    assert set(df.verdict) <= {"supported", "refuted", "inconclusive"}
    assert all(df.rule.str.len() > 20) and list(df.n) == [1] * len(CLAIMS)
    for _, row in df.iterrows():
        assert (row.explanation == "") == (row.verdict == "supported"), row.text


@pytest.mark.mnist
def test_every_quoted_number_is_a_cell_of_the_result_tables(checked):
    run, df = checked
    quoted = 0
    for _, row in df.iterrows():
        for e in row.evidence:
            if e["table"] == "derived":
                continue
            value = table_cell(run, e["table"], e["column"], e["epoch"], e["key"])
            assert e["value"] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), (row.text, e)
            shown = "n/a" if value != value else format_number(e["column"], value)  # NaN: nothing readable
            assert shown in row.measured, (row.text, e, row.measured)
            for bound in ("ci_low", "ci_high"):  # a bound the table holds is that cell too
                column = e["column"] + "_" + bound
                if e["table"] != "history.csv" and column in pd.read_csv(run / e["table"]).columns \
                        and math.isfinite(e[bound]):
                    assert e[bound] == pytest.approx(table_cell(run, e["table"], column, e["epoch"], e["key"]))
            quoted += 1
        if row.kind not in ("bottleneck",):
            assert row.evidence, row.text
    assert quoted >= 20


@pytest.mark.mnist
def test_derived_numbers_are_recomputed(checked):
    run, df = checked
    h = pd.read_csv(run / "history.csv")
    row = df[df.kind == "overfitting"].iloc[0]
    slope = [e for e in row.evidence if e["table"] == "derived" and "test_loss over" in e["column"]][0]
    after = h[h.epoch >= 2]
    assert slope["value"] == pytest.approx(np.polyfit(after.epoch, after.test_loss, 1)[0])
    row = df[df.kind == "quality"].iloc[0]
    m = pd.read_csv(run / "metrics.csv").query("source == 'model'").set_index("epoch")
    rel = [e for e in row.evidence if e["table"] == "derived"][0]
    f2, f4 = m.loc[2, "frechet_distance"], m.loc[4, "frechet_distance"]
    assert rel["value"] == pytest.approx((f4 - f2) / f2)


@pytest.mark.mnist
def test_cli_reuses_the_evaluation(checked, tmp_path):
    run, _ = checked
    before = (run / "metrics.csv").read_bytes()
    claims = tmp_path / "claims.toml"
    claims.write_text('[[claim]]\ntext = "4 and 9 are mixed"\nkind = "mixed_pair"\nepoch = 4\ndigits = [4, 9]\n',
                      encoding="utf-8")
    res = CliRunner().invoke(cli, ["check", str(claims), str(run), "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert (run / "metrics.csv").read_bytes() == before
    assert res.stdout.splitlines()[0].startswith("claim,id,text,kind,epochs,verdict,measured")
