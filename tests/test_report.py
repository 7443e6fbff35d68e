"""The report: parsed with a real HTML parser; every quoted number traced back to the result tables; the
verdict rules on crafted numbers; escaping of what comes from the run; the rules table in the README."""

from __future__ import annotations

import base64
import dataclasses
import math
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vaediag import columns as C
from vaediag import report
from vaediag import plots
from vaediag.plots import figure_names
from vaediag.report import VerdictEvidence, collapse_verdict, md_escape, rules_markdown
from vaediag.judgement.formats import format_number
from vaediag.judgement.rules import MISSING_SHARE, POSTERIOR_KL_DIM_MIN
from vaediag.store.rundir import Run
from vaediag.stats import wilson_interval

from fake_run import SHARED_EPOCHS, agreeing_code_judge, make_fake_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VOID = {"img", "meta", "br", "hr", "link", "input", "col", "source"}
README = Path(__file__).resolve().parents[1] / "docs" / "guide" / "report.md"  # where the rules table is printed
POSTERIOR_HEADLINE = ("posterior collapse: the latent code carries no information; the decoder draws (nearly) "
                      "one image")


class ReportParser(HTMLParser):
    """Collects sections, headings, images, quoted numbers and the untagged text of finding sentences."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.sections, self.h2, self.imgs, self.nums, self.verdicts = [], [], [], [], []
        self.sources: list[dict] = []  # <source> of a <picture>: a figure's narrow rendering
        self.items: list[dict] = []  # finding <li>: {"untagged": str, "spans": [str]}
        self.title = ""
        self.links = []
        self.cells: list[str] = []  # text of every <td>

    def _classes(self, attrs):
        return set((attrs.get("class") or "").split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.imgs.append(attrs)
        if tag == "source":
            self.sources.append(attrs)
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
            if t == "td":
                self.cells.append(a["_text"])
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
PERCENT = {"knn_accuracy", "confusion_rate", "most_mixed_pair_rate", "prior_confidence", "prior_share",
           "grid_share", "qgrid_share", "data_share", "recon_accuracy", "grid_inside_fraction",
           "qgrid_inside_fraction", "prdc_precision", "prdc_recall", "prdc_coverage", "grid_inside_share",
           "qgrid_inside_share", "prior_unreadable_share", "grid_unreadable_share", "qgrid_unreadable_share",
           "prior_off_codes_share", "judge_agreement", "prior_code_share", "recon_recall", "knn_recall"}
DECIMAL3 = {"silhouette", "prior_entropy_norm", "grid_entropy_norm", "qgrid_entropy_norm", "prior_code_entropy_norm"}
NATS1 = {"train_loss", "test_loss", "train_eval_loss", "iwae_nll_nats", "iwae_train_nll_nats"}
INTEGER = {"prior_modes_covered", "active_units", "prior_n_readable", "grid_n_readable", "qgrid_n_readable"}


def check_text(column: str, value: float, text: str) -> None:
    """``text`` writes ``value`` rounded as the README's number formats say (positional, never an exponent)."""
    percent = text.endswith(" %")
    shown = text.removesuffix(" %")
    assert re.fullmatch(r"-?\d+(\.\d+)?", shown), (column, text)
    decimals = len(shown.partition(".")[2])
    scale = 100 if percent else 1
    assert abs(float(shown) - scale * value) <= 0.5 * 10 ** -decimals * (1 + 1e-9), (column, value, text)
    assert percent == (column in PERCENT), (column, text)
    if percent or column in NATS1:
        assert decimals == 1, (column, text)
    elif column in DECIMAL3:
        assert decimals == 3, (column, text)
    elif column in INTEGER:
        assert decimals == 0, (column, text)
    else:  # 3 significant digits, trailing zeros dropped
        digits = shown.lstrip("-").replace(".", "").lstrip("0")
        assert len(digits) <= 3 and (not digits or decimals == 0 or shown[-1] != "0"), (column, text)


def table_value(run_dir: Path, source: str, column: str, epoch: str, key: str, row: str = "") -> float:
    """Read the cell straight from the CSV file (not through vaediag's reader)."""
    df = pd.read_csv(Path(run_dir) / source, dtype={C.EPOCH: str})
    rows = df[df[C.EPOCH].str.replace(r"\.0$", "", regex=True) == str(epoch)]
    if row and C.SOURCE in rows.columns:
        rows = rows[rows[C.SOURCE] == row]
    if source == "per_class.csv":
        rows = rows[rows[C.CLASS] == int(key)]
    elif source == "pairs.csv":
        a, b = map(int, key.split("-"))
        rows = rows[(rows[C.CLASS_A] == a) & (rows[C.CLASS_B] == b)]
    else:
        assert source in ("metrics.csv", "history.csv") and key == ""
    assert len(rows) == 1, (source, column, epoch, key)
    return float(rows[column].iloc[0])


def tiny_png(path: Path, width: int = 4, height: int = 3) -> Path:
    """A valid RGB PNG of the given size (no drawing library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = b"".join(b"\x00" + b"\xc0\x40\x40" * width for _ in range(height))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b""))
    return path


def fake_figures(run_dir: Path, epochs) -> dict[str, Path]:
    run = Run(run_dir)
    return {name: tiny_png(run.figure_path(name)) for name in figure_names(epochs)}


def sentences(content, section: str) -> str:
    return " ".join(s.plain() for s in content.sections[section])


def rewrite_metrics(run_dir: Path, epoch: int, **cells) -> None:
    """Set metrics cells of one checkpoint and write the evaluation back through Run."""
    run = Run(run_dir)
    metrics = run.metrics.copy()
    for column, value in cells.items():
        metrics.loc[(metrics.index == epoch) & (metrics[C.SOURCE] == C.SOURCE_MODEL), column] = value
    run.write_evaluation(dataclasses.replace(run.evaluation, metrics=metrics, artifacts={}), versions={})


# --- the full report on a fabricated "window" run ----------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    run = make_fake_run(tmp_path_factory.mktemp("report") / "run", epochs=SHARED_EPOCHS, scenario="window",
                        write_artifacts=False)
    figs = fake_figures(run, SHARED_EPOCHS)
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
    assert "Collapse verdict" in p.h2 and "How the findings are written" in p.h2
    assert len(p.verdicts) == 1 and p.verdicts[0].startswith(f"Verdict at epoch {SHARED_EPOCHS[-1]}:")
    assert "the grid window does not cover the region of the missing digits" in p.verdicts[0]
    assert all(len(item["spans"]) for item in p.items)


def test_every_image_is_an_embedded_png_and_every_figure_is_shown(built):
    _, figs, _, _, text, p = built
    names = []
    for img in p.imgs:
        src = img["src"]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1], validate=True) == figs[img["data-name"]].read_bytes()
        names.append(img["data-name"])
    narrow = [img["data-narrow"] for img in p.imgs if "data-narrow" in img]  # each narrow rendering: a <source>
    assert len(p.sources) == len(narrow) == len(plots.NARROW_FIGURES)
    for source, name in zip(p.sources, narrow):
        assert source["media"] == "(max-width: 700px)"
        assert base64.b64decode(source["srcset"].split(",", 1)[1], validate=True) == figs[name].read_bytes()
    assert sorted(names + narrow) == sorted(figs)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)  # nothing fetched from the network
    assert all(a["href"].startswith("#") for tag, a in p.links if tag == "a")  # figure zoom and the nav
    assert [(tag, a) for tag, a in p.links if tag != "a"] == [("script", {})]  # one inline script: table sorting


def test_every_quoted_number_comes_from_the_tables(built):
    run, _, _, _, _, p = built
    assert len(p.nums) >= 25
    assert {a["data-source"] for a in p.nums} == {"metrics.csv", "per_class.csv", "pairs.csv", "history.csv"}
    assert {a["data-row"] for a in p.nums} == {"model", "data"}
    for a in p.nums:
        value = table_value(run, a["data-source"], a["data-column"], a["data-epoch"], a["data-key"], a["data-row"])
        check_text(a["data-column"], value, a["_text"])


def test_finding_sentences_contain_no_untagged_numbers(built):
    _, _, _, _, _, p = built
    assert len(p.items) >= 10
    for item in p.items:
        assert not re.search(r"\d", item["untagged"]), item["untagged"]


def test_findings_are_the_cells_of_the_run(built):
    run_dir, _, _, _, text, p = built
    run = Run(run_dir)
    found = report.findings(run)
    assert len(found) == len(p.nums)
    for f in found:
        if f.source == "metrics.csv" and f.row == "model":
            assert f.value == run.value(f.column, f.epoch)
        elif f.source == "metrics.csv":
            assert f.epoch == C.DATA_EPOCH and f.value == run.reference(f.column)
        else:
            assert math.isclose(f.value, table_value(run_dir, f.source, f.column, str(f.epoch), f.key_text),
                                rel_tol=1e-12)
        check_text(f.column, f.value, f.text)
        assert f.text in text


def test_q1_names_the_most_mixed_pair(built):
    run, _, _, _, _, _ = built
    q1 = sentences(report.build_content(Run(run)), "q1")
    pairs = pd.read_csv(run / "pairs.csv")
    last = pairs[pairs[C.EPOCH] == SHARED_EPOCHS[-1]].sort_values(C.CONFUSION_RATE, ascending=False).iloc[0]
    rate = f"{100 * last[C.CONFUSION_RATE]:.1f} %"
    pair = f"{int(last[C.CLASS_A])}↔{int(last[C.CLASS_B])}"
    assert f"{pair} is the most mixed pair at epoch {SHARED_EPOCHS[-1]}; its confusion rate" in q1
    assert f"{rate} at epoch {SHARED_EPOCHS[-1]}: it falls at each checkpoint." in q1  # the fake pair unmixes


def test_markdown_links_figures_relatively_and_has_the_sections(built):
    run, figs, _, md_path, _, _ = built
    md = md_path.read_text(encoding="utf-8")
    for title in report.SECTION_TITLES.values():
        assert f"\n## {title}\n" in md
    links = re.findall(r"!\[((?:[^\]\\]|\\.)+)\]\(([^)]+)\)", md)
    wide = [name for name in figs if plots.wide_name(name) is None]  # narrow renderings are for report.html
    assert sorted(name.replace("\\_", "_") for name, _ in links) == sorted(wide)
    for _, target in links:
        assert not Path(target).is_absolute() and (run / target).is_file()
    assert "\n| data |" in md  # the reference row of the per-epoch table
    assert rules_markdown() in md


def test_per_epoch_table_has_the_reference_row_and_every_column(built):
    run, _, _, _, text, _ = built
    metrics = pd.read_csv(run / "metrics.csv")
    for col in metrics.columns[2:]:  # every metrics.csv column with a value after epoch and source is a header
        if metrics[col].notna().any():
            assert re.search(rf"<th [^>]*>{col}</th>", text), col
        else:  # a column without any value is named as left out, not shown as an empty block
            assert not re.search(rf"<th [^>]*>{col}</th>", text), col
            assert re.search(rf"are left out: [^<]*\b{col}\b", text), col
    assert len(re.findall(r"<th [^>]*>data</th>", text)) >= 8  # the reference row in every column group


# --- scenarios --------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario, kind", [("healthy", "healthy"), ("collapse", "mode-collapse"),
                                            ("window", "window"), ("posterior", "posterior-collapse")])
def test_verdict_of_fabricated_scenarios(tmp_path, scenario, kind):
    run = Run(make_fake_run(tmp_path / scenario, epochs=(5, 30, 50), scenario=scenario, write_artifacts=False))
    content = report.build_content(run)
    assert content.verdict.kind == kind
    text = sentences(content, "verdict")
    if scenario == "collapse":
        assert content.verdict.prior_missing == (2, 3) and "collapse of the model" in text
    if scenario == "window":
        assert content.verdict.grid_missing == (0, 1) and "does not cover" in text and "55.0 %" in text
    if scenario == "healthy":
        assert "no mode collapse" in text
    table = report.verdict_table(run)
    assert list(table["verdict"]) == ["healthy", "healthy", kind]  # earlier checkpoints are healthy
    assert list(table["active units"]) == [2, 2, 0 if scenario == "posterior" else 2]


def test_posterior_collapse_is_not_reported_as_mode_collapse(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", epochs=(5, 30, 50), scenario="posterior", write_artifacts=False)
    html_path, md_path = report.build_report(run_dir, figures={})
    p = parse(html_path.read_text(encoding="utf-8"))
    assert len(p.verdicts) == 1 and POSTERIOR_HEADLINE in p.verdicts[0] and "mode collapse" not in p.verdicts[0]
    verdict_item = next(i for i in p.items if "is posterior collapse, not mode collapse" in
                        i["untagged"] + "".join(i["spans"]))
    assert "0" in verdict_item["spans"]  # the quoted active-units cell
    assert "posterior-collapse" in p.cells and "0, 1" in p.cells  # verdict table: kind, inactive dims
    md = md_path.read_text(encoding="utf-8")
    assert f"**Verdict at epoch 50:** {POSTERIOR_HEADLINE}." in md
    assert "| 50 | posterior-collapse | 0 | 0, 1 |" in md  # the verdict first, then its evidence
    text = sentences(report.build_content(Run(run_dir)), "verdict")
    assert ("At epoch 50, 0 of the 2 latent dimensions are active; every latent dimension has a KL below "
            "0.01 nats: dimension 0 (0.0001 nats), dimension 1 (0.0002 nats).") in text
    assert "this is a collapse of the model" not in text


def test_partial_posterior_collapse_names_the_inactive_dimensions(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", epochs=(5, 30), latent_dim=4, write_artifacts=False)
    rewrite_metrics(run_dir, 30, kl_dim_1=0.001, kl_dim_3=0.002, active_units=2)
    run = Run(run_dir)
    content = report.build_content(run)
    assert content.verdict.kind == "healthy" and content.verdict.inactive_dims == (1, 3)
    assert ("At epoch 30, 2 of the 4 latent dimensions are inactive (KL below 0.01 nats): dimension 1 "
            "(0.001 nats), dimension 3 (0.002 nats). They carry no information about the input (a partial "
            "posterior collapse); the other dimensions carry the code (active units: 2).") in sentences(content,
                                                                                                       "verdict")
    assert list(report.verdict_table(run)["inactive dims"]) == ["–", "1, 3"]
    kl = [f for f in content.findings() if f.column.startswith("kl_dim_")]
    assert [(f.column, f.value) for f in kl] == [("kl_dim_1", 0.001), ("kl_dim_3", 0.002)]


def test_q3_detects_overfitting_and_short_runs(tmp_path):
    over = Run(make_fake_run(tmp_path / "over", epochs=(5, 30, 100), overfit=True, write_artifacts=False))
    q3 = sentences(report.build_content(over), "q3")
    assert "the test loss rises, training longer hurts (overfitting)" in q3 and "the gap grows" in q3
    fine = Run(make_fake_run(tmp_path / "fine", epochs=(5, 30, 100), write_artifacts=False))
    q3 = sentences(report.build_content(fine), "q3")
    assert "overfitting" not in q3 and "the gap grows" not in q3
    assert "diversity does not fall" in q3
    short = Run(make_fake_run(tmp_path / "short", epochs=(1, 3), write_artifacts=False))
    assert "cannot tell whether training longer helps" in sentences(report.build_content(short), "q3")


def test_diversity_fall_is_reported(tmp_path):
    run = Run(make_fake_run(tmp_path / "c", epochs=(5, 30, 50), scenario="collapse", write_artifacts=False))
    q3 = sentences(report.build_content(run), "q3")
    assert "diversity falls" in q3 and "PRDC coverage" in q3 and "recall" not in q3


def test_many_missing_digits_are_named_without_shares(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", epochs=(5, 30), scenario="collapse", write_artifacts=False)
    run = Run(run_dir)
    per_class = run.per_class.copy()
    last = (per_class[C.EPOCH] == 30) & per_class[C.CLASS].isin([0, 1, 4, 5])
    per_class.loc[last, [C.CLASS_PRIOR_SHARE, C.CLASS_GRID_SHARE, C.CLASS_PRIOR_SHARE + C.CI_LOW]] = 0.0
    per_class.loc[last, C.CLASS_PRIOR_SHARE + C.CI_HIGH] = wilson_interval(0, 1000)[1]  # 0 of 1000 samples
    per_class.loc[last, [C.CLASS_PRIOR_CODE_SHARE, C.CLASS_PRIOR_CODE_SHARE + C.CI_LOW]] = 0.0  # the code judge too
    per_class.loc[last, C.CLASS_PRIOR_CODE_SHARE + C.CI_HIGH] = wilson_interval(0, 980)[1]
    run.write_evaluation(dataclasses.replace(run.evaluation, per_class=per_class, artifacts={}), versions={})
    content = report.build_content(Run(run_dir))
    assert content.verdict.kind == "mode-collapse" and content.verdict.prior_missing == (0, 1, 2, 3, 4, 5)
    text = content.sections["verdict"][1].plain()
    assert text.startswith("Both judges find prior samples missing digits 0, 1, 2, 3, 4, 5 (each below 1.0 %)")


# --- escaping of what comes from the run ------------------------------------------------------------
EVIL_VALUE = "</script><img src=x onerror=alert(1)> | *bold* _it_ `code` [link](http://evil.example) &lt;"


def _evil_run(tmp_path: Path, name: str) -> Path:
    run_dir = make_fake_run(tmp_path / name, epochs=(1, 2), write_artifacts=False)
    run = Run(run_dir)
    run.write_config({**run.config, "note": EVIL_VALUE})
    return run_dir


def test_run_name_and_config_values_are_html_escaped(tmp_path):
    name = '<script>alert(1)<b>&"x'
    html_path, _ = report.build_report(_evil_run(tmp_path, name), figures={})
    text = html_path.read_text(encoding="utf-8")
    p = parse(text)
    assert "<script>alert" not in text and "<img" not in text and "<b>&" not in text
    assert [(tag, a) for tag, a in p.links if tag == "script"] == [("script", {})] and not p.imgs  # only ours
    assert p.title == f"vaediag report: {name}"
    assert EVIL_VALUE in p.cells  # shown as text, unchanged


def test_md_escape():
    assert md_escape("a|b*c_d`e<f>[g](h)&i~j\\k") == r"a\|b\*c\_d\`e\<f\>\[g\](h)\&i\~j\\k"
    assert md_escape("two\nlines") == "two lines"
    assert md_escape(12.5) == "12.5"


def test_run_name_and_config_values_are_markdown_escaped(tmp_path):
    name = "x|*y*_z_`c`[a](b)<i>"
    _, md_path = report.build_report(_evil_run(tmp_path, name), figures={})
    md = md_path.read_text(encoding="utf-8")
    assert md.startswith(f"# vaediag report: {md_escape(name)}\n")
    assert md_escape(name) == r"x\|\*y\*\_z\_\`c\`\[a\](b)\<i\>"
    row = f"| note | {md_escape(EVIL_VALUE)} |"
    assert row in md.splitlines()
    assert len(re.findall(r"(?<!\\)\|", row)) == 3  # the value's pipe does not split the table row
    for markup in (r"\[link", r"<img", r"`code", r"\*bold", r"_it"):  # none of it unescaped
        assert not re.search(r"(?<!\\)" + markup, md), markup


# --- the verdict rules on crafted numbers ------------------------------------------------------------
UNIFORM = np.full(10, 0.1)


def _without(*digits):
    s = UNIFORM.copy()
    s[list(digits)] = 0.0
    return s / s.sum()


N = 10000  # prior samples of the crafted cases: Wilson intervals from the shares
HIGH = (0.98, 1.0)  # an entropy interval wholly above COLLAPSE_ENTROPY


@pytest.mark.parametrize(
    "args, options, kind, prior_missing, grid_missing, inactive",
    [
        # every latent dimension's KL below the threshold: posterior collapse, whatever the histograms show
        ((0.10, 0.10, 1.0), dict(prior_shares=_without(*range(1, 10)), kl_per_dim=[1e-4, 2e-3], prior_samples=N),
         "posterior-collapse", tuple(range(1, 10)), (), (0, 1)),
        # no active unit (the code ignores the input even if its variance mismatch gives KL)
        ((0.99, 0.99, 0.99), dict(kl_per_dim=[0.5, 0.5], active_units=0), "posterior-collapse", (), (), ()),
        # checked before "unreliable"
        ((0.99, 0.99, 0.99), dict(reference_entropy_norm=0.2, active_units=0), "posterior-collapse", (), (), ()),
        # one dimension inactive: partial posterior collapse, the other rules decide
        ((0.99, 0.985, 0.97, ), dict(kl_per_dim=[2.0, 0.005], prior_entropy_ci=HIGH), "healthy", (), (), (1,)),
        # prior samples miss digit 2 as well: the model collapsed, whatever the window
        ((0.95, 0.95, 0.99), dict(prior_shares=_without(2), grid_shares=_without(2), prior_samples=N,
                                  prior_entropy_ci=HIGH), "mode-collapse", (2,), (2,), ()),
        # prior entropy alone below COLLAPSE_ENTROPY, no shares: an imbalance, never a collapse
        ((0.80, 0.80, 0.99), dict(kl_per_dim=[1.0, 1.0], active_units=2, prior_entropy_ci=(0.78, 0.82)),
         "imbalance", (), (), ()),
        # ... and without an interval: inconclusive
        ((0.80, 0.80, 0.99), dict(kl_per_dim=[1.0, 1.0], active_units=2), "inconclusive", (), (), ()),
        # prior fine, grid misses 0 and 1, their own codes lie outside the window: window
        ((0.99, 0.90, 0.50), dict(prior_shares=UNIFORM, grid_shares=_without(0, 1), prior_samples=N,
                                  prior_entropy_ci=HIGH, grid_inside_shares=[0.02, 0.03] + [0.6] * 8,
                                  grid_inside_ci=([0.01, 0.02] + [0.55] * 8, [0.03, 0.05] + [0.65] * 8)),
         "window", (), (0, 1), ()),
        # same, but their own codes lie inside it (whatever the overall fraction): resolution
        ((0.99, 0.90, 0.50), dict(prior_shares=UNIFORM, grid_shares=_without(0, 1), prior_samples=N,
                                  prior_entropy_ci=HIGH, grid_inside_shares=[0.97] * 10,
                                  grid_inside_ci=([0.95] * 10, [0.98] * 10)), "resolution", (), (0, 1), ()),
        # no per-digit shares: the overall inside fraction with its interval decides
        ((0.99, 0.90, 0.40), dict(prior_entropy_ci=HIGH, grid_inside_fraction_ci=(0.39, 0.41)), "window", (), (), ()),
        # everything present
        ((0.99, 0.985, 0.97), dict(prior_shares=UNIFORM, grid_shares=UNIFORM, prior_samples=N, prior_entropy_ci=HIGH),
         "healthy", (), (), ()),
        ((0.99, 0.97, 0.30), dict(prior_entropy_ci=HIGH), "healthy", (), (), ()),  # grid within GRID_ENTROPY_GAP
        ((float("nan"), float("nan"), float("nan")), {}, "unknown", (), (), ()),
        # the classifier sees few digits even in real images: no verdict, whatever the samples show
        ((0.10, 0.10, 0.99), dict(prior_shares=_without(*range(1, 10)), grid_shares=UNIFORM, prior_samples=N,
                                  reference_entropy_norm=0.20), "unreliable", tuple(range(1, 10)), (), ()),
    ],
)
def test_collapse_verdict_rules(args, options, kind, prior_missing, grid_missing, inactive):
    # a code judge that agrees with the classifier: these cases are about the rules, not the judges' agreement
    agree = agreeing_code_judge(options.get("prior_shares"), options.get("prior_entropy_ci", (np.nan, np.nan)), N)
    v = collapse_verdict(VerdictEvidence(*args, **options, **agree))
    assert (v.kind, v.prior_missing, v.grid_missing, v.inactive_dims) == (kind, prior_missing, grid_missing,
                                                                          inactive)
    assert v.headline


def test_thresholds_are_strict():
    from vaediag.stats import wilson_interval

    shares = UNIFORM.copy()
    k = 0  # the largest count whose Wilson upper bound over N stays below MISSING_SHARE
    while wilson_interval(k + 1, N)[1] < MISSING_SHARE:
        k += 1
    assert wilson_interval(k, N)[1] < MISSING_SHARE <= wilson_interval(k + 1, N)[1]
    shares[3] = k / N
    v = collapse_verdict(VerdictEvidence(0.99, 0.99, 0.99, prior_shares=shares, grid_shares=UNIFORM, prior_samples=N,
                         prior_entropy_ci=HIGH, **agreeing_code_judge(shares, HIGH, N)))
    assert v.kind == "mode-collapse" and v.prior_missing == (3,)
    shares[3] = (k + 1) / N  # upper bound at or above the threshold, lower bound below: inconclusive
    v = collapse_verdict(VerdictEvidence(0.99, 0.99, 0.99, prior_shares=shares, grid_shares=UNIFORM, prior_samples=N,
                         prior_entropy_ci=HIGH, **agreeing_code_judge(shares, HIGH, N)))
    assert v.kind == "inconclusive" and v.prior_uncertain == (3,) and v.prior_missing == ()
    at_limit = collapse_verdict(VerdictEvidence(0.99, 0.99, 0.99, kl_per_dim=[POSTERIOR_KL_DIM_MIN] * 2, prior_entropy_ci=HIGH,
                                                **agreeing_code_judge(None, HIGH)))
    assert at_limit.kind == "healthy" and at_limit.inactive_dims == ()
    below = collapse_verdict(VerdictEvidence(0.99, 0.99, 0.99, kl_per_dim=[POSTERIOR_KL_DIM_MIN * 0.99] * 2))
    assert below.kind == "posterior-collapse"


# --- number formats, rules ----------------------------------------------------------------------------
@pytest.mark.parametrize("column, value, text", [
    ("knn_accuracy", 0.1234, "12.3 %"),
    ("prior_share", 0.0, "0.0 %"),
    ("grid_inside_fraction", 0.55, "55.0 %"),
    ("silhouette", 0.12345, "0.123"),
    ("silhouette", -0.0416, "-0.042"),
    ("frechet_distance", 142.63, "143"),
    ("frechet_distance", 0.012345, "0.0123"),
    ("prior_classifier_score", 8.0, "8"),
    ("test_loss", 143.26, "143.3"),
    ("prior_modes_covered", 9.6, "10"),
    ("active_units", 0.0, "0"),
    ("kl_dim_3", 0.00025, "0.00025"),
    ("a_column_without_a_format", 1234567.0, "1230000"),
])
def test_number_formats(column, value, text):
    assert format_number(column, value) == text


def test_rules_quote_the_constants():
    text = " ".join(rule.text for rule in report.rules())
    for needle in ("below 0.9", "90.0 %", "1.0 %", "epoch 30", "below 0.01 nats", "variance above 0.01"):
        assert needle in text, needle


def test_readme_rules_table_is_the_rules_table():
    """The report guide prints the rules through the docs' generator (``vaediag-table rules``), never a copy."""
    guide = README.read_text(encoding="utf-8")
    assert "```{vaediag-table} rules\n```" in guide
    assert "| Verdict: healthy |" not in guide and "rules:start" not in guide  # no hand copy to go stale
    assert rules_markdown().startswith("| topic | rule |")
