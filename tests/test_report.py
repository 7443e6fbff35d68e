"""The report: parsed with a real HTML parser; every quoted number traced back to the result tables."""

from __future__ import annotations

import base64
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vaediag import columns as C
from vaediag import report
from vaediag.plots import figure_names, load_run
from vaediag.report import collapse_verdict

from fake_run import SHARED_EPOCHS, make_fake_run, shared_run_with_figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VOID = {"img", "meta", "br", "hr", "link", "input", "col"}


class ReportParser(HTMLParser):
    """Collects sections, headings, images, quoted numbers and the untagged text of finding sentences."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.sections, self.h2, self.imgs, self.nums, self.verdicts = [], [], [], [], []
        self.items: list[dict] = []  # finding <li>: {"untagged": str, "spans": [str]}
        self.title = ""
        self.links = []

    def _classes(self, attrs):
        return set((attrs.get("class") or "").split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.imgs.append(attrs)
        if tag in ("a", "link", "script"):
            self.links.append((tag, attrs))
        if tag == "li" and any(t == "ul" and "findings" in self._classes(a) for t, a in self.stack):
            self.items.append({"untagged": "", "spans": []})
        if tag not in VOID:
            self.stack.append((tag, {**attrs, "_text": ""}))

    def handle_endtag(self, tag):
        while self.stack:
            t, a = self.stack.pop()
            if t == "span" and "num" in self._classes(a):
                self.nums.append(a)
            if t == "span" and self.items and self._in_findings():
                self.items[-1]["spans"].append(a["_text"])
            if t == "h2":
                self.h2.append(a["_text"])
            if t == "title":
                self.title = a["_text"]
            if t == "p" and "verdict" in self._classes(a):
                self.verdicts.append(a["_text"])
            if t == tag:
                break

    def _in_findings(self):
        return any(t == "li" for t, _ in self.stack) and any(
            t == "ul" and "findings" in self._classes(a) for t, a in self.stack)

    def handle_data(self, data):
        for _, a in self.stack:
            a["_text"] += data
        if self._in_findings() and not any(t == "span" for t, _ in self.stack):
            self.items[-1]["untagged"] += data


def parse(text: str) -> ReportParser:
    p = ReportParser()
    p.feed(text)
    p.close()
    return p


# --- an independent re-derivation of the quoted numbers ----------------------------------------------
def expected_text(column: str, value: float) -> str:
    kind = report.COLUMN_FORMATS.get(column, report.DEFAULT_FORMAT)
    if kind == "percent":
        return f"{value * 100:.1f} %"
    if kind == "decimal3":
        return f"{value:.3f}"
    if kind == "nats1":
        return f"{value:.1f}"
    if kind == "int":
        return str(int(round(value)))
    assert kind == "sig3"
    return None  # checked numerically, see check_text


def check_text(column: str, value: float, text: str) -> None:
    want = expected_text(column, value)
    if want is None:  # 3 significant digits: same rounded number, written without an exponent
        assert "e" not in text.lower() and float(text) == float(f"{value:.3g}"), (column, value, text)
    else:
        assert text == want, (column, value, text)


def table_value(run_dir: Path, source: str, column: str, epoch: str, key: str) -> float:
    """Read the cell straight from the CSV file (not through vaediag's reader)."""
    df = pd.read_csv(run_dir / source, dtype={C.EPOCH: str})
    df[C.EPOCH] = df[C.EPOCH].str.replace(r"\.0$", "", regex=True)
    rows = df[df[C.EPOCH] == str(epoch)]
    if source == "per_class.csv":
        rows = rows[rows[C.DIGIT] == int(key)]
    elif source == "pairs.csv":
        a, b = map(int, key.split("-"))
        rows = rows[(rows[C.DIGIT_A] == a) & (rows[C.DIGIT_B] == b)]
    else:
        assert source in ("metrics.csv", "history.csv") and key == ""
    assert len(rows) == 1, (source, column, epoch, key)
    return float(rows[column].iloc[0])


# --- the full report on the shared run ------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    run, figs = shared_run_with_figures(tmp_path_factory)
    html_path, md_path = report.build_report(run, figures=figs)
    text = html_path.read_text(encoding="utf-8")
    return run, figs, html_path, md_path, text, parse(text)


def test_report_files_and_sections(built):
    run, _, html_path, md_path, text, p = built
    assert html_path == run / "report.html" and md_path == run / "report.md"
    assert text.startswith("<!DOCTYPE html>")
    for sid in ("overview", "q1", "q2", "verdict", "q3", "table", "rules", "config"):
        assert sid in p.sections
    assert [h for h in p.h2 if h.startswith("Q")] == [report.SECTION_TITLES[k] for k in ("q1", "q2", "q3")]
    assert "Mode-collapse verdict" in p.h2 and "How the findings are written" in p.h2
    assert len(p.verdicts) == 1 and p.verdicts[0].startswith(f"Verdict at epoch {SHARED_EPOCHS[-1]}:")
    assert report.VERDICT_HEADLINES["window"] in p.verdicts[0]  # the fake run is a "window" case
    assert all(len(item["spans"]) for item in p.items)


def test_every_image_is_an_embedded_png_and_every_figure_is_shown(built):
    _, figs, _, _, text, p = built
    names = []
    for img in p.imgs:
        src = img["src"]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1], validate=True)[:8] == PNG_MAGIC
        names.append(img["data-name"])
    assert sorted(names) == sorted(figure_names(SHARED_EPOCHS)) == sorted(figs)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)  # nothing fetched from the network
    assert all(tag == "a" and a["href"].startswith("#") for tag, a in p.links)


def test_every_quoted_number_comes_from_the_tables(built):
    run, _, _, _, _, p = built
    assert len(p.nums) >= 25
    for a in p.nums:
        value = table_value(run, a["data-source"], a["data-column"], a["data-epoch"], a["data-key"])
        check_text(a["data-column"], value, a["_text"])


def test_finding_sentences_contain_no_untagged_numbers(built):
    _, _, _, _, _, p = built
    assert len(p.items) >= 10
    for item in p.items:
        assert not re.search(r"\d", item["untagged"]), item["untagged"]


def test_findings_api_matches_the_report(built):
    run, _, _, _, text, p = built
    fs = report.findings(run)
    assert len(fs) == len(p.nums)
    sources = {f.source for f in fs}
    assert sources == {"metrics.csv", "per_class.csv", "pairs.csv", "history.csv"}
    for f in fs:
        key = "" if f.key is None else "-".join(map(str, f.key)) if isinstance(f.key, tuple) else str(f.key)
        assert math.isclose(f.value, table_value(run, f.source, f.column, str(f.epoch), key), rel_tol=1e-12)
        check_text(f.column, f.value, f.text)
        assert f.text in text
    metric_findings = [f for f in fs if f.source == "metrics.csv"]
    metrics = pd.read_csv(run / "metrics.csv", dtype={C.EPOCH: str}).set_index(C.EPOCH)
    for f in metric_findings:  # the check: the value is a cell of metrics.csv
        assert f.value == pytest.approx(float(metrics.at[str(f.epoch), f.column]), rel=1e-12)


def test_q1_names_the_most_mixed_pair(built):
    run, _, _, _, _, _ = built
    content = report.build_content(load_run(run))
    q1 = " ".join(s.plain() for s in content.sections["q1"])
    pairs = pd.read_csv(run / "pairs.csv")
    last = pairs[pairs[C.EPOCH] == SHARED_EPOCHS[-1]].sort_values(C.CONFUSION_RATE, ascending=False).iloc[0]
    rate = f"{100 * last[C.CONFUSION_RATE]:.1f} %"
    pair = f"{int(last[C.DIGIT_A])}↔{int(last[C.DIGIT_B])}"
    assert f"{pair} is the most mixed pair at epoch {SHARED_EPOCHS[-1]} ({rate}" in q1


def test_markdown_links_figures_relatively_and_has_the_sections(built):
    run, figs, _, md_path, _, _ = built
    md = md_path.read_text(encoding="utf-8")
    for title in report.SECTION_TITLES.values():
        assert f"## {title}" in md
    links = re.findall(r"!\[([^\]]+)\]\(([^)]+)\)", md)
    assert sorted(n for n, _ in links) == sorted(figs)
    for _, target in links:
        assert not Path(target).is_absolute() and (run / target).is_file()
    assert "| data |" in md  # the reference row of the per-epoch table


def test_per_epoch_table_has_the_reference_row_and_every_column(built):
    run, _, _, _, text, _ = built
    metrics = pd.read_csv(run / "metrics.csv")
    for col in metrics.columns[1:]:  # every metrics.csv column appears as a table header
        assert f">{col}</th>" in text
    assert text.count(">data</th>") >= 8  # the reference row in every column group


# --- scenarios --------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", ["healthy", "collapse", "window"])
def test_verdict_of_fabricated_scenarios(tmp_path, scenario):
    run = load_run(make_fake_run(tmp_path / scenario, epochs=(5, 30, 50), scenario=scenario, write_artifacts=False))
    content = report.build_content(run)
    assert content.verdict.kind == scenario
    text = " ".join(s.plain() for s in content.sections["verdict"])
    if scenario == "collapse":
        assert content.verdict.prior_missing == (2, 3) and "collapse of the model" in text
    if scenario == "window":
        assert content.verdict.grid_missing == (0, 1) and "does not cover" in text
        assert "55.0 %" in text
    if scenario == "healthy":
        assert "no mode collapse" in text
    # earlier checkpoints are healthy in every scenario
    assert list(report.verdict_table(run)["verdict"])[:2] == ["healthy", "healthy"]


def test_q3_detects_overfitting_and_short_runs(tmp_path):
    over = load_run(make_fake_run(tmp_path / "over", epochs=(5, 30, 100), overfit=True, write_artifacts=False))
    q3 = " ".join(s.plain() for s in report.build_content(over).sections["q3"])
    assert "rises" in q3 and "(overfitting)" in q3 and "the gap has grown since epoch 30" in q3
    fine = load_run(make_fake_run(tmp_path / "fine", epochs=(5, 30, 100), write_artifacts=False))
    q3 = " ".join(s.plain() for s in report.build_content(fine).sections["q3"])
    assert "keeps falling after epoch 30" in q3 and "no sign of overfitting" in q3
    assert "diversity does not fall" in q3
    short = load_run(make_fake_run(tmp_path / "short", epochs=(1, 3), write_artifacts=False))
    q3 = " ".join(s.plain() for s in report.build_content(short).sections["q3"])
    assert "cannot tell whether training longer helps" in q3


def test_diversity_fall_is_reported(tmp_path):
    run = load_run(make_fake_run(tmp_path / "c", epochs=(5, 30, 50), scenario="collapse", write_artifacts=False))
    q3 = " ".join(s.plain() for s in report.build_content(run).sections["q3"])
    assert "diversity falls" in q3 and "PRDC recall" in q3


def test_names_are_html_escaped(tmp_path):
    name = 'r<b>&"x'
    run = make_fake_run(tmp_path / name, epochs=(1, 2), write_artifacts=False)
    html_path, _ = report.build_report(run, figures={})
    text = html_path.read_text(encoding="utf-8")
    assert "<b>&" not in text
    assert parse(text).title == f"vaediag report: {name}"


# --- the verdict rules on crafted numbers ------------------------------------------------------------
UNIFORM = np.full(10, 0.1)


def _without(*digits):
    s = UNIFORM.copy()
    s[list(digits)] = 0.0
    return s / s.sum()


@pytest.mark.parametrize(
    "args, kind, prior_missing, grid_missing",
    [
        # prior samples miss digit 2 as well: the model collapsed, whatever the window
        ((0.95, 0.95, 0.99, _without(2), _without(2)), "collapse", (2,), (2,)),
        # prior entropy alone below COLLAPSE_ENTROPY (no shares given)
        ((0.80, 0.80, 0.99), "collapse", (), ()),
        # prior fine, grid misses 0 and 1, half the codes outside the window: window
        ((0.99, 0.90, 0.50, UNIFORM, _without(0, 1)), "window", (), (0, 1)),
        # same, but the window holds 97 % of the codes: resolution of the grid
        ((0.99, 0.90, 0.97, UNIFORM, _without(0, 1)), "resolution", (), (0, 1)),
        # no shares: grid entropy far below the prior's, low inside fraction
        ((0.99, 0.90, 0.40), "window", (), ()),
        # everything present
        ((0.99, 0.985, 0.97, UNIFORM, UNIFORM), "healthy", (), ()),
        ((0.99, 0.97, 0.30), "healthy", (), ()),  # grid within GRID_ENTROPY_GAP: low coverage alone is no gap
        ((float("nan"), float("nan"), float("nan")), "unknown", (), ()),
        # the classifier sees few digits even in real images: no verdict, whatever the samples show
        ((0.10, 0.10, 0.99, _without(*range(1, 10)), UNIFORM, 0.20), "unreliable", tuple(range(1, 10)), ()),
    ],
)
def test_collapse_verdict_rules(args, kind, prior_missing, grid_missing):
    v = collapse_verdict(*args)
    assert (v.kind, v.prior_missing, v.grid_missing) == (kind, prior_missing, grid_missing)
    assert v.headline


def test_many_missing_digits_are_named_without_shares(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", epochs=(5, 30), scenario="collapse", write_artifacts=False)
    pc = pd.read_csv(run_dir / "per_class.csv")
    last = (pc[C.EPOCH] == "30") & pc[C.DIGIT].isin([0, 1, 4, 5])
    pc.loc[last, [C.CLASS_PRIOR_SHARE, C.CLASS_GRID_SHARE]] = 0.0
    pc.to_csv(run_dir / "per_class.csv", index=False)
    content = report.build_content(load_run(run_dir))
    assert content.verdict.kind == "collapse" and content.verdict.prior_missing == (0, 1, 2, 3, 4, 5)
    text = content.sections["verdict"][1].plain()
    assert text.startswith("Prior samples miss digits 0, 1, 2, 3, 4, 5 (each below 1.0 %)")


def test_missing_share_threshold_is_strict():
    shares = UNIFORM.copy()
    shares[3] = report.MISSING_SHARE  # exactly at the threshold: still covered, like modes_covered
    assert collapse_verdict(0.99, 0.99, 0.99, shares, shares).kind == "healthy"
    shares[3] = report.MISSING_SHARE * 0.99
    assert collapse_verdict(0.99, 0.99, 0.99, shares, UNIFORM).kind == "collapse"


def test_rules_section_quotes_the_constants():
    text = " ".join(rule for _, rule in report.rules())
    for needle in (f"{report.COLLAPSE_ENTROPY:g}", f"{100 * report.INSIDE_MIN:.1f} %",
                   f"{100 * report.MISSING_SHARE:.1f} %", f"epoch {report.TRAIN_LENGTH_EPOCH}"):
        assert needle in text
