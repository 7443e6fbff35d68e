"""`vaediag.check_claims` on constructed runs (tests/fake_run.py): every claim kind gets each of the three
verdicts, decided from known table cells (read here with pandas, independently of vaediag.claims), with
thresholds placed far from a value, at a value (an interval around it straddles it), or with no interval."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

import vaediag
from vaediag import columns as C
from vaediag.claims import CLAIM_COLUMNS, KINDS, check_claims, claim_rules, format_claims
from vaediag.store.rundir import Run

from fake_run import make_fake_run

EPOCHS = (1, 3, 5)
S, R, I = "supported", "refuted", "inconclusive"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("claims")
    out = {name: make_fake_run(base / name, epochs=EPOCHS, scenario=name)
           for name in ("healthy", "collapse", "window", "imbalance")}
    out["imbalance1"] = make_fake_run(base / "imbalance1", epochs=EPOCHS, scenario="imbalance", seed=1)
    out["no_codes"] = make_fake_run(base / "no_codes", epochs=EPOCHS, write_artifacts=False)
    out["overfit"] = make_fake_run(base / "overfit", epochs=(5, 30, 60), overfit=True)
    out["uncertain"] = make_fake_run(base / "uncertain", epochs=EPOCHS)
    _set_prior_share(out["uncertain"], 5, 5, 8)  # digit 5: 8 of 1000 prior samples: Wilson [0.4 %, 1.6 %]
    out["flat"] = make_fake_run(base / "flat", epochs=EPOCHS)
    _copy_entropy(out["flat"], 1, 3)  # epoch 3's prior entropy (and its CI) equal to epoch 1's
    return out


def _set_prior_share(path, epoch: int, digit: int, count: int) -> None:
    """Rewrite one digit's prior share (count of the fabricated 1000 samples) with its Wilson interval."""
    run = Run(path)
    ev = run.evaluation
    pc = ev.per_class.copy()
    at = (pc[C.SOURCE] == C.SOURCE_MODEL) & (pc[C.EPOCH] == epoch) & (pc[C.CLASS] == digit)
    low, high = st.binomtest(count, 1000).proportion_ci(method="wilson")  # independent of vaediag.stats
    pc.loc[at, [C.CLASS_PRIOR_SHARE, C.CLASS_PRIOR_SHARE_CI_LOW, C.CLASS_PRIOR_SHARE_CI_HIGH]] = \
        [count / 1000, low, high]
    ev.per_class = pc
    run.write_evaluation(ev)


def _copy_entropy(path, source: int, target: int) -> None:
    run = Run(path)
    ev = run.evaluation
    m = ev.metrics.copy()
    for col in (C.PRIOR + C.ENTROPY_NORM, C.PRIOR_ENTROPY_NORM_CI_LOW, C.PRIOR_ENTROPY_NORM_CI_HIGH):
        m.loc[target, col] = m.loc[source, col]
    ev.metrics = m
    run.write_evaluation(ev)


def per_class(path, epoch, digit, column):
    pc = pd.read_csv(path / "per_class.csv")
    row = pc[(pc.source == "model") & (pc.epoch == epoch) & (pc["class"] == digit)]
    return float(row[column].iloc[0])


def metric_cell(path, epoch, column):
    m = pd.read_csv(path / "metrics.csv")
    return float(m[(m.source == "model") & (m.epoch == epoch)][column].iloc[0])


def one(run, claim: dict, **settings) -> pd.Series:
    claims = {"settings": settings, "claim": [{"text": f"a {claim['kind']} claim", **claim}]}
    from vaediag.claims import parse_claims

    df = check_claims(parse_claims(claims), run)
    assert list(df.columns) == list(CLAIM_COLUMNS) and len(df) == 1
    return df.iloc[0]


def test_api_is_exported_lazily():
    assert vaediag.check_claims is check_claims
    assert set(KINDS) >= {"overlap", "separated", "mixed_pair", "missing", "rare", "overrepresented",
                          "mode_collapse", "quality", "diversity", "overfitting", "bottleneck", "metric"}
    topics = " ".join(r.topic for r in claim_rules())
    assert all(f"Claim: {k}" in topics for k in KINDS)


# ---------------------------------------------------------------------------------------------- latent
@pytest.mark.parametrize("kind,threshold_name", [("overlap", "overlap_silhouette"),
                                                 ("separated", "separated_silhouette")])
def test_clusters_three_verdicts(runs, kind, threshold_name):
    run = runs["healthy"]
    value = per_class(run, 5, 2, "silhouette")
    claim = {"kind": kind, "epoch": 5, "digits": [2]}
    low_answer, high_answer = (S, R) if kind == "overlap" else (R, S)
    assert one(run, claim, **{threshold_name: 0.99}).verdict == low_answer  # the silhouette is far below
    assert one(run, claim, **{threshold_name: -0.99}).verdict == high_answer
    row = one(run, claim, **{threshold_name: value})  # an interval around the value straddles it
    assert row.verdict == I
    ev = row.evidence[0]
    assert (ev["table"], ev["column"], ev["epoch"], ev["key"]) == ("per_class.csv", "silhouette", 5, 2)
    assert ev["value"] == pytest.approx(value) and ev["ci_low"] < value < ev["ci_high"]
    assert f"{value:.3f}" in row.measured
    assert one(runs["no_codes"], claim, **{threshold_name: 0.99}).verdict == I  # no stored codes: no interval


def test_overlap_several_digits_and_refuted_explanation(runs):
    run = runs["healthy"]
    values = [per_class(run, 5, d, "silhouette") for d in (3, 5, 8)]
    # threshold between the digits: the one above it refutes "they all overlap"
    row = one(run, {"kind": "overlap", "epoch": 5, "digits": [3, 5, 8]}, overlap_silhouette=-0.5)
    assert row.verdict == R and "cluster of their own" in row.explanation
    assert "confusion 3-5" in row.measured and "confusion 5-8" in row.measured
    assert [e["value"] for e in row.evidence if e["column"] == "silhouette"] == pytest.approx(values)


def test_mixed_pair_three_verdicts(runs):
    run = runs["healthy"]
    pairs = pd.read_csv(run / "pairs.csv")
    rate = float(pairs[(pairs.epoch == 5) & (pairs.class_a == 4) & (pairs.class_b == 9)].confusion_rate.iloc[0])
    claim = {"kind": "mixed_pair", "epoch": 5, "digits": [9, 4]}
    assert one(run, claim, mixed_pair_rate=0.001).verdict == S
    row = one(run, claim, mixed_pair_rate=0.9)
    assert row.verdict == R and "rarely confuses 4 and 9" in row.explanation
    row = one(run, claim, mixed_pair_rate=rate)
    assert row.verdict == I
    # the Wilson interval over the pair's test digits, recomputed with scipy
    n = round(0.0980 * 400) + round(0.1009 * 400)
    low, high = st.binomtest(round(rate * n), n).proportion_ci(method="wilson")
    ev = row.evidence[0]
    assert ev["key"] == "4-9" and ev["value"] == pytest.approx(rate)
    assert (ev["ci_low"], ev["ci_high"]) == pytest.approx((low, high), abs=1e-9)
    assert "rank 1 of 45" in row.measured


# ---------------------------------------------------------------------------------------------- shares
def test_missing_from_prior(runs):
    assert one(runs["collapse"], {"kind": "missing", "epoch": 5, "digits": [2, 3]}).verdict == S
    row = one(runs["collapse"], {"kind": "missing", "epoch": 5, "digits": [2, 7]})
    assert row.verdict == R and "digit 7 is drawn in" in row.explanation
    share = per_class(runs["uncertain"], 5, 5, "prior_share")
    assert share == pytest.approx(0.008)
    row = one(runs["uncertain"], {"kind": "missing", "epoch": 5, "digits": [5]})
    assert row.verdict == I and "straddles 1.0 %" in row.explanation


def test_missing_from_the_grid_is_explained_by_the_window(runs):
    run = runs["window"]
    row = one(run, {"kind": "missing", "epoch": 5, "digits": [0], "source": "grid"})
    prior = per_class(run, 5, 0, "prior_share")
    inside = per_class(run, 5, 0, "grid_inside_share")
    assert per_class(run, 5, 0, "grid_share") == 0.0 and prior > 0.05 and inside == pytest.approx(0.05)
    assert row.verdict == R
    assert (f"digit 0 is drawn in {100 * prior:.1f} % of prior samples; it is missing from the linear grid because "
            f"only 5.0 % of its codes lie inside the [-1, 1] window") in row.explanation
    assert "exact" in row.measured and "exact" in row.rule
    # the grid and the prior samples both miss it: supported
    assert one(runs["collapse"], {"kind": "missing", "epoch": 5, "digits": [2], "source": "grid"}).verdict == S
    # the grid shows the digit: refuted, with its grid share
    row = one(runs["collapse"], {"kind": "missing", "epoch": 5, "digits": [7], "source": "qgrid"})
    assert row.verdict == R and "of the quantile grid, not missing there" in row.explanation


def test_rare_and_overrepresented_three_verdicts(runs):
    run = runs["imbalance"]
    share8, data8 = per_class(run, 5, 8, "prior_share"), per_class(run, 5, 8, "data_share")
    share3, data3 = per_class(run, 5, 3, "prior_share"), per_class(run, 5, 3, "data_share")
    assert share8 > 2 * data8 and share3 < data3 / 3  # the constructed imbalance
    assert one(run, {"kind": "rare", "epoch": 5, "digits": [3, 5]}).verdict == S
    assert one(run, {"kind": "rare", "epoch": 5, "digits": [8]}).verdict == R
    assert one(run, {"kind": "rare", "epoch": 5, "digits": [3]}, imbalance_factor=data3 / share3).verdict == I
    assert one(run, {"kind": "overrepresented", "epoch": 5, "digits": [8]}).verdict == S
    assert one(run, {"kind": "overrepresented", "epoch": 5, "digits": [3]}).verdict == R
    assert one(run, {"kind": "overrepresented", "epoch": 5, "digits": [8]},
               imbalance_factor=share8 / data8).verdict == I


# ---------------------------------------------------------------------------------------------- collapse
def test_mode_collapse_three_verdicts(runs):
    row = one(runs["collapse"], {"kind": "mode_collapse", "epoch": 5, "digits": [2, 3]})
    assert row.verdict == S and "run verdict: mode-collapse" in row.measured
    row = one(runs["collapse"], {"kind": "mode_collapse", "epoch": 5, "digits": [2, 3, 4]})
    assert row.verdict == R and "but not 4" in row.explanation
    row = one(runs["window"], {"kind": "mode_collapse", "epoch": 5})
    assert row.verdict == R and row.explanation.startswith("no collapse of the model: digit 0 is drawn in")
    assert "because only 5.0 % of its codes lie inside the [-1, 1] window" in row.explanation
    row = one(runs["imbalance1"], {"kind": "mode_collapse", "epoch": 5})
    assert row.verdict == R and row.explanation.startswith("imbalance, not collapse")
    assert "over-drawn: 8" in row.explanation
    # seed 0's imbalance run: digit 3 drawn in 16 of 1000 samples, Wilson [1.0 %, 2.6 %] touches 1 %
    row = one(runs["imbalance"], {"kind": "mode_collapse", "epoch": 5})
    assert row.verdict == I and "digit 3's prior share 1.6 % has a 95 % CI straddling 1.0 %" in row.explanation
    assert one(runs["healthy"], {"kind": "mode_collapse", "epoch": 5}).verdict == R
    row = one(runs["uncertain"], {"kind": "mode_collapse", "epoch": 5})
    assert row.verdict == I and "inconclusive" in row.measured


# ---------------------------------------------------------------------------------------------- changes
def test_quality_three_verdicts(runs):
    run = runs["healthy"]
    f1, f5 = metric_cell(run, 1, "frechet_distance"), metric_cell(run, 5, "frechet_distance")
    assert f5 < 0.8 * f1  # the fabricated distance falls with training
    row = one(run, {"kind": "quality", "epochs": [1, 5], "direction": "improves"})
    assert row.verdict == S and row.epochs == "1 → 5"
    assert f"{(f5 - f1) / f1:+.1%}".replace("%", " %") in row.measured
    assert "no sampling interval" in row.rule
    row = one(run, {"kind": "quality", "epochs": [1, 5], "direction": "worsens"})
    assert row.verdict == R and "fell" in row.explanation
    row = one(run, {"kind": "quality", "epochs": [1, 5], "direction": "improves"}, quality_tolerance=10.0)
    assert row.verdict == I and "tolerance" in row.explanation


def test_diversity_three_verdicts(runs):
    run = runs["imbalance"]
    e1, e5 = metric_cell(run, 1, "prior_entropy_norm"), metric_cell(run, 5, "prior_entropy_norm")
    assert e5 < e1 - 0.05
    assert one(run, {"kind": "diversity", "epochs": [1, 5], "direction": "worsens"}).verdict == S
    row = one(run, {"kind": "diversity", "epochs": [1, 5], "direction": "improves"})
    assert row.verdict == R and "less evenly" in row.explanation
    row = one(runs["flat"], {"kind": "diversity", "epochs": [1, 3], "direction": "improves"})
    assert row.verdict == I
    derived = [e for e in row.evidence if e["table"] == "derived"][0]
    assert derived["value"] == 0.0 and derived["ci_low"] < 0 < derived["ci_high"]


def test_overfitting_three_verdicts(runs):
    run = runs["overfit"]
    h = pd.read_csv(run / "history.csv")
    after = h[h.epoch >= 30]
    slope = np.polyfit(after.epoch, after.test_loss, 1)[0]  # independent least squares
    row = one(run, {"kind": "overfitting", "after": 30})
    assert row.verdict == S and row.epochs == "30 → 60"
    derived = [e for e in row.evidence if e["table"] == "derived"][0]
    assert derived["value"] == pytest.approx(slope) and derived["ci_low"] > 0
    assert "gap" in row.measured
    row = one(runs["healthy"], {"kind": "overfitting", "after": 1})
    assert row.verdict == R and "keeps falling" in row.explanation
    row = one(runs["healthy"], {"kind": "overfitting", "after": 4})
    assert row.verdict == I and "only 2 epoch(s)" in row.explanation


def test_bottleneck_on_one_run_is_inconclusive(runs):
    row = one(runs["healthy"], {"kind": "bottleneck"})
    assert row.verdict == I and "needs a sweep with more than one latent_dim" in row.explanation


# ---------------------------------------------------------------------------------------------- metric
def test_metric_with_and_without_interval(runs):
    run = runs["healthy"]
    knn = metric_cell(run, 5, "knn_accuracy")
    low, high = metric_cell(run, 5, "knn_accuracy_ci_low"), metric_cell(run, 5, "knn_accuracy_ci_high")
    claim = {"kind": "metric", "column": "knn_accuracy", "epoch": 5, "operator": ">"}
    assert one(run, {**claim, "value": low - 0.01}).verdict == S
    assert one(run, {**claim, "value": high + 0.01}).verdict == R
    row = one(run, {**claim, "value": knn})
    assert row.verdict == I and "_ci_low/_ci_high" in row.rule
    # no interval column: the value itself decides
    sil = metric_cell(run, 5, "silhouette")
    row = one(run, {"kind": "metric", "column": "silhouette", "epochs": [3, 5], "operator": "<", "value": 0.9})
    assert row.verdict == S and "no interval" in row.rule and row.epochs == "3, 5"
    assert one(run, {"kind": "metric", "column": "silhouette", "epoch": 5, "operator": ">=",
                     "value": sil + 1e-9}).verdict == R
    row = one(run, {"kind": "metric", "column": "prior_share", "digit": 3, "epoch": 5, "operator": ">",
                    "value": 0.05})
    assert row.evidence[0]["table"] == "per_class.csv" and row.evidence[0]["key"] == 3


# ---------------------------------------------------------------------------------------------- formats
def test_formats(runs):
    df = check_claims([{"text": "4 and 9 | mix", "id": "q1", "kind": "mixed_pair", "epoch": 5, "digits": [4, 9]},
                       {"text": "no collapse", "kind": "mode_collapse", "epoch": 5}], runs["window"])
    table = format_claims(df, "table", width=60)
    assert all(len(line) <= 60 for line in table.splitlines())
    assert "[1 q1]" in table and "2 checks:" in table
    md = format_claims(df, "md")
    assert md.splitlines()[0].startswith("| claim | text |") and "4 and 9 \\| mix" in md
    import io
    import json

    back = pd.read_csv(io.StringIO(format_claims(df, "csv")))
    assert list(back.columns) == list(CLAIM_COLUMNS) and list(back.verdict) == list(df.verdict)
    records = json.loads(format_claims(df, "json"))
    assert records[0]["evidence"][0]["table"] == "pairs.csv" and records[1]["verdict"] == "refuted"
    assert not any(isinstance(v, float) and math.isnan(v) for r in records for e in r["evidence"] for v in e.values())


ALL_KINDS = [
    {"kind": "overlap", "epoch": 5, "digits": [3, 5, 8]},
    {"kind": "separated", "epoch": 5, "digits": [1]},
    {"kind": "mixed_pair", "epoch": 5, "digits": [4, 9]},
    {"kind": "missing", "epoch": 5, "digits": [2, 3], "source": "grid"},
    {"kind": "rare", "epoch": 5, "digits": [5], "source": "qgrid"},
    {"kind": "overrepresented", "epoch": 5, "digits": [1]},
    {"kind": "mode_collapse", "epoch": 5, "digits": [2]},
    {"kind": "quality", "epochs": [1, 5], "direction": "worsens"},
    {"kind": "diversity", "epochs": [3, 5], "direction": "improves"},
    {"kind": "overfitting", "after": 2},
    {"kind": "bottleneck", "epoch": 5},
    {"kind": "metric", "column": "prior_entropy_norm", "epoch": 5, "operator": ">=", "value": 0.9},
]


@pytest.mark.parametrize("scenario,legacy", [("posterior", False), ("window", True), ("collapse", True)])
def test_every_kind_answers_on_every_scenario(tmp_path, scenario, legacy):
    """Posterior collapse and runs evaluated before the interval columns existed (fallback intervals):
    every kind answers, and a claim that does not hold always says why."""
    run = make_fake_run(tmp_path / "run", epochs=EPOCHS, scenario=scenario, legacy=legacy)
    df = check_claims([{"text": c["kind"], **c} for c in ALL_KINDS], run)
    assert len(df) == len(ALL_KINDS) and set(df.verdict) <= {S, R, I}
    for _, row in df.iterrows():
        assert row.measured and row.rule and (row.explanation == "") == (row.verdict == S), row.kind
    if scenario == "posterior":
        assert df.set_index("kind").loc["mode_collapse", "verdict"] == S  # posterior collapse, digit 2 missing


def test_metric_on_a_legacy_run_uses_the_recomputed_interval(tmp_path):
    run = make_fake_run(tmp_path / "run", epochs=EPOCHS, legacy=True)
    entropy = metric_cell(run, 5, "prior_entropy_norm")
    row = one(run, {"kind": "metric", "column": "prior_entropy_norm", "epoch": 5, "operator": ">=", "value": entropy})
    assert row.verdict == I and "no interval" not in row.measured  # the value sits inside its own interval
    ev = row.evidence[0]
    assert ev["ci_low"] < entropy < ev["ci_high"]
