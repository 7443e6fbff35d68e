"""Every caption, header and sentence of the report is true to what the run and its figures hold: rendered for each
kind of run (tests/report_kinds.py: z = 2, z > 2, a 3-epoch run, a run without grids, Fashion-MNIST, an external
z = 20 VAE, a deterministic encoder, a default-study-like run, a sweep), no sentence refers to something absent
(no "grid window" without a grid, no "last 20 epochs" in a 3-epoch run, no train/test curves where there is no
history, no "?" or "nan" in place of a value, no column without a value), and each question opens with its answer."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from vaediag import plots
from vaediag.plots.overview import overview_title
from vaediag.report.facts import run_facts

from report_kinds import KINDS, built_kind, sweep_report

ANSWERS = {"supported", "refuted", "inconclusive", "no rule"}
PLACEHOLDER = re.compile(r"(^|[\s(\[:=,])\?(?=$|[\s)\],;.])|\bnan\b|\bNone\b|\bundefined\b")


class Visible(HTMLParser):
    """The text a reader sees (no script, style or attribute), per section id; figure captions by figure name;
    the answer lines (data-answer) of each section; the headers of every table."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.sections: dict[str, str] = {}
        self.captions: dict[str, str] = {}
        self.answers: dict[str, list[str]] = {}
        self.tables: list[list[list[str]]] = []
        self.section = ""
        self.figure = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.section = attrs.get("id", "")
            self.sections.setdefault(self.section, "")
        if tag == "figure" and (attrs.get("id") or "").startswith("fig-"):
            self.figure = attrs["id"][4:]
        if tag == "p" and "data-answer" in attrs:
            self.answers.setdefault(self.section, []).append(attrs["data-answer"])
        if tag == "table":
            self.tables.append([])
        if tag == "tr" and self.tables:
            self.tables[-1].append([])
        if tag in ("td", "th") and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("")  # a cell, empty until its text arrives
        if tag not in ("img", "source", "meta", "br", "hr", "link", "input", "col"):
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        tags = [t for t, _ in self.stack]
        if "script" in tags or "style" in tags:
            return
        self.sections[self.section] = self.sections.get(self.section, "") + data
        if "figcaption" in tags and self.figure:
            self.captions[self.figure] = self.captions.get(self.figure, "") + data
        if ("td" in tags or "th" in tags) and self.tables and self.tables[-1] and self.tables[-1][-1]:
            self.tables[-1][-1][-1] += data.strip()


def visible(html_path) -> Visible:
    parser = Visible()
    parser.feed(html_path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module", params=KINDS)
def kind(request, tmp_path_factory):
    run, html, md = built_kind(request.param, tmp_path_factory)
    return request.param, run, visible(html), md.read_text(encoding="utf-8")


def prose(page: Visible) -> str:
    """Everything but the configuration section (which shows config.json's values as they are)."""
    return " ".join(text for sid, text in page.sections.items() if sid != "config")


def test_no_placeholder_instead_of_a_value(kind):
    name, run, page, md = kind
    for text in (prose(page), md.split("## Configuration and versions")[0]):
        assert not PLACEHOLDER.search(text), (name, PLACEHOLDER.search(text).group(0),
                                              text[max(0, PLACEHOLDER.search(text).start() - 80):][:160])
    assert "?" not in overview_title(run) and ("beta" in overview_title(run)) == (not run.is_external)


def test_the_header_states_the_runs_latent_dimension_and_beta(kind):
    name, run, page, md = kind
    facts = run_facts(run)
    header = md.splitlines()[1]
    assert f"latent dimension **{run.latent_dim}**" in header, header
    assert ("not set by vaediag" in header) == run.is_external, header
    if not run.is_external:
        assert f"β **{facts.beta:g}**" in header


def test_each_question_opens_with_its_answer(kind):
    name, run, page, md = kind
    for section in ("q1", "q2", "q3"):
        assert page.answers.get(section), (name, section)
        assert set(page.answers[section]) <= ANSWERS
    assert len(page.answers["q3"]) == (2 if run_facts(run).has_history else 1)
    for line in (l for l in md.splitlines() if l.startswith("**Does more training hurt unseen")):
        assert re.match(r"\*\*Does more training hurt unseen (digits|images)\?\*\* \*\*(supported|refuted|inconclusive)"
                        r"\*\* — ", line), line


def test_the_latent_caption_names_what_the_figure_shows(kind):
    name, run, page, md = kind
    facts = run_facts(run)
    caption = page.captions[plots.FIG_LATENT]
    if facts.projected:
        assert "principal components" in caption and "latent dimensions 0 and 1)" not in caption
        assert "Solid square" not in caption and "No grid window is drawn" in caption
    else:
        assert "principal components" not in caption
        assert ("Solid square" in caption) == facts.grids, caption


def test_grid_words_only_where_grids_exist(kind):
    name, run, page, md = kind
    facts = run_facts(run)
    grid_pages = [n for n in page.captions if n.startswith("grid_")]
    if not facts.grids:
        assert not grid_pages
        for fig in (plots.FIG_LATENT, plots.FIG_ENTROPY, plots.FIG_CLASS_SHARE):
            assert "grid" not in page.captions.get(fig, ""), (fig, page.captions.get(fig))
        assert "Decoded latent grids" not in prose(page)
        return
    assert grid_pages
    q2 = page.sections["q2"]
    if facts.grid_slice:
        assert f"the other {facts.latent_dim - 2} at 0" in page.captions[grid_pages[0]]
        assert "a slice through latent dimensions 0 and 1" in q2 and "each grid is a slice" in q2
    else:
        assert "slice" not in q2 and "the solid square of the latent panels" in q2


def test_epoch_windows_fit_the_history(kind):
    name, run, page, md = kind
    facts = run_facts(run)
    text = " ".join(t for sid, t in page.sections.items() if sid not in ("config", "rules"))  # rules: general
    for n in re.findall(r"last (\d+) epochs", text):
        assert int(n) <= len(facts.history_epochs), (name, n)
    for a, b in re.findall(r"over epochs (\d+)–(\d+)", text):
        assert int(a) in facts.history_epochs and int(b) in facts.history_epochs, (name, a, b)
    if facts.history_epochs and max(facts.history_epochs) < 20:
        assert "last 20 epochs" not in text


def test_the_loss_caption_describes_the_loss_figure(kind):
    name, run, page, md = kind
    facts = run_facts(run)
    caption = page.captions.get(plots.FIG_LOSS)
    if facts.deterministic:
        assert caption is None  # no loss is measured: no figure, no caption
        assert "no training history" in page.sections["q3"]
        return
    if not facts.has_history:
        assert "not trained by vaediag" in caption and "Train loss" not in caption and "dotted" not in caption
        return
    assert caption.startswith("Train loss") and "dotted verticals: the checkpoints" in caption
    assert ("epoch 30, the epoch Q3 asks about" in caption) == facts.trained_past_question


def test_class_share_and_entropy_captions_list_the_panels_drawn(kind):
    name, run, page, md = kind
    facts = run_facts(run)
    share = page.captions[plots.FIG_CLASS_SHARE]
    assert ("linear-grid images" in share) == (any("grid" in p for p in facts.share_panels))
    entropy = page.captions[plots.FIG_ENTROPY]
    assert ("linear-grid" in entropy) == facts.grids


def test_no_table_column_without_a_value(kind):
    name, run, page, md = kind
    for table in page.tables:
        rows = [r for r in table if r]
        if len(rows) < 2:
            continue
        body = rows[1:]
        assert all(len(r) == len(rows[0]) for r in body), (name, rows[0])
        for col in range(1, len(rows[0])):
            assert any(r[col] for r in body), (name, rows[0][col])


def test_verdict_column_comes_first_in_the_verdict_table(kind):
    name, run, page, md = kind
    verdict = [t for t in page.tables if t and t[0][:2] == ["epoch", "verdict"]]
    assert len(verdict) == 1, [t[0][:3] for t in page.tables if t]
    grid_columns = [h for h in verdict[0][0] if "grid" in h or "window" in h]
    assert bool(grid_columns) == run_facts(run).grids, grid_columns  # no "missing from grid: –" without a grid


def test_the_sweep_report_answers_every_question_of_every_configuration(tmp_path_factory):
    runs, html, md = sweep_report(tmp_path_factory)
    page = visible(html)
    configs = [sid for sid in page.sections if sid.startswith("config-")]
    assert len(configs) == 2
    for sid in configs:
        assert len(page.answers[sid]) == 4 and set(page.answers[sid]) <= ANSWERS  # q1, q2 and q3's two lines
    assert not PLACEHOLDER.search(prose(page))
    text = md.read_text(encoding="utf-8")
    assert text.count("**Separate clusters?**") == 2 and text.count("**Does the train–test gap grow?**") == 2
    source = html.read_text(encoding="utf-8")
    assert source.count('<source media="(max-width: 700px)"') == 1  # the figure's narrow rendering
