"""The sweep report: built from fabricated evaluated runs (3 seeds x latent 2 and 8); every quoted number is a
cell of summary.csv or recomputed from the runs' own tables; the comparison's three answers on constructed
cases; links to the runs' reports exist; the HTML is well-formed."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from vaediag import columns as C
from vaediag import compare
from vaediag.judgement import replicates as R
from vaediag.errors import RunDirError
from vaediag.report.sweep import build_sweep_report
from vaediag.report.sweep_content import comparisons, missing_digits, step_direction, trajectory_words
from vaediag.store.rundir import Run

from fake_run import make_fake_run

EPOCHS = (2, 5, 9)
SEEDS = (0, 1, 2)
VOID = {"img", "meta", "br", "hr", "link", "input", "col", "source"}


class Parser(HTMLParser):
    """Checks nesting (every opened tag closed in order) and collects quoted numbers, links and answers."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.nums, self.links, self.answers, self.text = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "span" and "num" in (attrs.get("class") or "").split():
            self.nums.append(attrs)
        if tag == "a" and "run" in (attrs.get("class") or "").split():
            self.links.append(attrs["href"])
        if tag == "li" and "data-answer" in attrs:
            self.answers.append(attrs["data-answer"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    base = tmp_path_factory.mktemp("sweep")
    runs = []
    for z in (2, 8):
        for s in SEEDS:
            run = make_fake_run(base / f"mlp_z{z}_s{s}", latent_dim=z, seed=s, epochs=EPOCHS, write_artifacts=False,
                                scenario="collapse" if (z, s) == (8, 1) else "healthy")
            Run(run).write_report("<!DOCTYPE html><title>run</title>", "# run\n")
            runs.append(run)
    info = {"grid": {"seeds": list(SEEDS), "latent_dim": [2, 8], "model": ["mlp"]},
            "runs": [{"name": r.name, "status": "done", "seconds": 1.5} for r in runs]
            + [{"name": "mlp_z16_s0", "status": "failed", "error": "RuntimeError: <boom> & bust"}]}
    html, md = build_sweep_report(runs, html_path=base / "report.html", md_path=base / "report.md",
                                  summary_path=base / "summary.csv", figures_dir=base / "figures", sweep_info=info)
    parser = Parser()
    parser.feed(html.read_text())
    parser.close()
    return base, runs, html, md, parser


def test_html_is_well_formed_and_names_the_failed_run(sweep):
    base, runs, html, md, parser = sweep
    assert parser.stack == []
    text = " ".join(parser.text)
    assert "RuntimeError: <boom> & bust" in text  # escaped in the source, read back as written
    assert "<boom>" not in html.read_text()
    assert (base / "figures" / "sweep_metrics.png").read_bytes()[:4] == b"\x89PNG"
    assert md.read_text().startswith("# vaediag sweep report")


def test_summary_csv_holds_the_t_statistics_of_the_runs(sweep):
    base, runs, *_ = sweep
    summary = pd.read_csv(base / "summary.csv")
    assert list(summary.columns) == list(R.SUMMARY_COLUMNS)
    values = [Run(r).value(C.KNN_ACCURACY, 5) for r in runs[:3]]
    row = summary[(summary[R.METRIC] == C.KNN_ACCURACY) & (summary[C.EPOCH] == 5) & (summary[compare.LATENT_DIM] == 2)]
    low, high = st.t.interval(0.95, 2, loc=np.mean(values), scale=st.sem(values))
    assert row[R.N].item() == 3 and row[R.MEAN].item() == pytest.approx(np.mean(values))
    assert (row[R.CI_LOW].item(), row[R.CI_HIGH].item()) == (pytest.approx(low), pytest.approx(high))


def _value(run, metric: str, epoch: int) -> float:
    """A run's metric, the derived loss gap recomputed from its two losses."""
    if metric == R.LOSS_GAP:
        return Run(run).value(C.TEST_LOSS, epoch) - Run(run).value(C.TRAIN_EVAL_LOSS, epoch)
    return Run(run).value(metric, epoch)


def test_every_quoted_number_is_a_summary_cell_or_recomputed_from_the_runs(sweep):
    base, runs, _, _, parser = sweep
    summary = pd.read_csv(base / "summary.csv")
    assert len(parser.nums) > 50
    kinds = set()
    cells = {"mean": lambda r: r[R.MEAN].item(), "half": lambda r: r[R.CI_HIGH].item() - r[R.MEAN].item(),
             "low": lambda r: r[R.CI_LOW].item(), "high": lambda r: r[R.CI_HIGH].item()}
    for num in parser.nums:
        group, epoch, metric, stat = num["data-group"], int(num["data-epoch"]), num["data-metric"], num["data-stat"]
        value = float(num["data-value"])
        kinds.add((stat, metric))
        if stat in cells:
            row = summary[(summary[compare.GROUP] == group) & (summary[C.EPOCH] == epoch) & (summary[R.METRIC] == metric)]
            assert len(row) == 1
            assert value == pytest.approx(cells[stat](row), rel=1e-12)
        elif stat == "change":  # paired over seeds: first checkpoint -> this one, from each run's metrics.csv
            z = 2 if "d=2" in group else 8
            seeds = [r for r in runs if f"_z{z}_" in r.name]
            diffs = [_value(r, metric, epoch) - _value(r, metric, EPOCHS[0]) for r in seeds]
            assert value == pytest.approx(np.mean(diffs))
    stats = {stat for stat, _ in kinds}
    assert {"mean", "half", "change", "change_low", "change_high"} <= stats
    assert ("change", R.LOSS_GAP) in kinds  # the loss gap's trajectory is in Q3


def test_every_checkpoint_appears_in_the_trajectories(sweep):
    *_, parser = sweep
    for metric in (C.SILHOUETTE, C.KNN_ACCURACY, C.FRECHET, C.TEST_LOSS):
        quoted = {int(n["data-epoch"]) for n in parser.nums if n["data-metric"] == metric and n["data-stat"] == "mean"}
        assert quoted == set(EPOCHS)


def test_links_to_every_run_report_exist(sweep):
    base, runs, html, md, parser = sweep
    assert len(parser.links) == len(runs)
    for href in parser.links:
        assert not href.startswith("/") and (html.parent / unquote(href)).resolve().is_file()
    assert {Path(unquote(h)).parent.name for h in parser.links} == {r.name for r in runs}


def test_missing_digits_and_verdicts_are_counted_over_seeds(sweep):
    base, runs, html, *_ = sweep
    assert missing_digits(Run(runs[4]), EPOCHS[-1]) == (2, 3)  # the collapse seed (z=8, seed 1)
    text = html.read_text()
    assert "digit <span class=\"digit\">2</span> in <span class=\"count\">1</span> of 3 seeds" in text
    assert "mode-collapse</span> in <span class=\"count\">1</span>" in text


def test_missing_digit_uses_the_upper_ci_bound_when_there_is_one(tmp_path):
    run = Run(make_fake_run(tmp_path / "r", epochs=(2,), write_artifacts=False))
    ev = run.evaluation
    pc = ev.per_class.copy()
    model = (pc[C.SOURCE] == C.SOURCE_MODEL)
    pc.loc[model & (pc[C.CLASS] == 4), C.CLASS_PRIOR_SHARE] = 0.005  # below the threshold, but its interval
    pc[C.CLASS_PRIOR_SHARE + C.CI_HIGH] = pc[C.CLASS_PRIOR_SHARE] + 0.002
    pc.loc[model & (pc[C.CLASS] == 4), C.CLASS_PRIOR_SHARE + C.CI_HIGH] = 0.012  # reaches above it: not missing
    pc.loc[model & (pc[C.CLASS] == 7), C.CLASS_PRIOR_SHARE + C.CI_HIGH] = 0.009  # upper bound below: missing
    assert missing_digits(_with_per_class(run, pc), 2) == (7,)


def _with_per_class(run: Run, per_class: pd.DataFrame) -> Run:
    class Patched(Run):
        @property
        def per_class(self):
            return per_class
    return Patched(run.path)


# --- the comparison across configurations: all three answers on constructed cases -----------------------
def _table(z2: list[float], z16: list[float]) -> pd.DataFrame:
    rows = []
    for z, values in ((2, z2), (16, z16)):
        for seed, v in enumerate(values):
            rows.append({C.RUN: f"z{z}_s{seed}", C.EPOCH: 30, compare.MODEL: "mlp", compare.LATENT_DIM: z,
                         compare.BETA: 1.0, "batch_size": 128, "lr": 1e-3, "train_size": 3000, "test_size": 400, compare.DATASET: "mnist",
                         compare.SEED: seed, compare.GROUP: f"mlp, d={z}, β=1", C.KNN_ACCURACY: v,
                         compare.RUN_DIR: f"/x/z{z}_s{seed}"})
    return pd.DataFrame(rows).set_index([C.RUN, C.EPOCH])


@pytest.mark.parametrize("z2, z16, answer", [
    ([0.84, 0.85, 0.83], [0.97, 0.96, 0.975], "supported"),
    ([0.84, 0.85, 0.83], [0.70, 0.71, 0.72], "refuted"),
    ([0.84, 0.86, 0.82], [0.85, 0.83, 0.87], "inconclusive"),
    ([0.84], [0.97, 0.96, 0.975], "inconclusive"),  # one seed: no interval
])
def test_comparison_answer_on_constructed_cases(z2, z16, answer):
    df = _table(z2, z16)
    found = comparisons(df, R.seed_statistics(df))
    assert len(found) == 1
    c = found[0]
    assert (c.better, c.worse, c.metric, c.answer) == ("mlp, d=16, β=1", "mlp, d=2, β=1", C.KNN_ACCURACY, answer)
    text = "".join(p if isinstance(p, str) else p.text for p in c.parts)
    assert text.startswith("z=16 separates digits better than z=2") and answer in text
    quotes = [p for p in c.parts if hasattr(p, "stat")]
    assert quotes[0].value == pytest.approx(np.mean(z16)) and quotes[0].stat == "mean"


def test_configurations_differing_in_more_than_one_key_are_not_compared():
    df = _table([0.84, 0.85], [0.97, 0.96]).reset_index()
    df.loc[df[compare.LATENT_DIM] == 16, "lr"] = 1e-4
    df = df.set_index([C.RUN, C.EPOCH])
    assert comparisons(df, R.seed_statistics(df)) == []


@pytest.mark.parametrize("steps, words", [
    (["rises"] * 3, "rises at each checkpoint"), (["falls"] * 2, "falls at each checkpoint"),
    (["rises", "level", "falls"], "rises to epoch 30, then stays level (within the seed-to-seed noise) to epoch 50, "
                                  "then falls to epoch 100"),
    (["rises", "rises", "falls"], "rises to epoch 50, then falls to epoch 100"), ([], ""),
])
def test_trajectory_words(steps, words):
    assert trajectory_words([5, 30, 50, 100][: len(steps) + 1], steps) == words


def test_a_step_is_level_when_its_paired_interval_straddles_zero():
    seeds = pd.Index([0, 1, 2])
    before = pd.Series([0.50, 0.52, 0.51], index=seeds)
    assert step_direction(before, before + [0.10, 0.11, 0.12]) == "rises"
    assert step_direction(before, before - [0.10, 0.11, 0.12]) == "falls"
    assert step_direction(before, before + [0.01, -0.01, 0.005]) == "level"
    assert step_direction(before.iloc[:1], before.iloc[:1] + 0.1) is None


def test_no_runs_is_a_one_line_error(tmp_path):
    with pytest.raises(RunDirError) as exc:
        build_sweep_report([], html_path=tmp_path / "r.html", md_path=tmp_path / "r.md",
                           summary_path=tmp_path / "s.csv", figures_dir=tmp_path, sweep_info={})
    assert "\n" not in str(exc.value)


def test_the_report_states_its_family_of_decisions_and_pairs_by_seed(sweep):
    base, runs, html, md, parser = sweep
    text = " ".join(parser.text)
    assert "This report makes " in text and "Benjamini–Hochberg procedure at a 5 % false discovery rate" in text
    assert "This report makes " in md.read_text()
    assert "paired by seed: both ran the same seeds" in text  # z = 2 and z = 8 ran seeds 0, 1, 2
    import re

    found = re.search(r"This report makes (\d+) decisions .*? false discovery rate \((\d+) made.*?level of "
                      r"([\d.]+) %", text)
    m, made, level = int(found.group(1)), int(found.group(2)), float(found.group(3))
    assert 0 < made <= m and level == pytest.approx(100 * (1 - 0.05 * made / m), abs=0.01)
    assert f"{level:g} % CI" in text  # the changes' intervals are printed at that level


def test_summary_and_figure_hold_the_loss_gap(sweep, monkeypatch, tmp_path):
    base, runs, *_ = sweep
    summary = pd.read_csv(base / "summary.csv")
    gap = summary[(summary[R.METRIC] == R.LOSS_GAP) & (summary[compare.LATENT_DIM] == 2) & (summary[C.EPOCH] == 9)]
    values = [Run(r).value(C.TEST_LOSS, 9) - Run(r).value(C.TRAIN_EVAL_LOSS, 9) for r in runs[:3]]
    assert gap[R.N].item() == 3 and gap[R.MEAN].item() == pytest.approx(np.mean(values))
    from vaediag.plots import sweep as sweep_plots

    seen = []
    real = sweep_plots.sweep_metrics_figure
    monkeypatch.setattr(sweep_plots, "sweep_metrics_figure", lambda s, metrics, **kw: seen.append(list(metrics)) or real(
        s, metrics, **kw))
    build_sweep_report(runs, html_path=tmp_path / "r.html", md_path=tmp_path / "r.md", summary_path=tmp_path / "s.csv",
                       figures_dir=tmp_path / "figures", sweep_info={})
    assert R.LOSS_GAP in seen[0]
