"""The Claims section of the run and sweep reports (a claims table built here, in the columns of
``vaediag.claims.check_claims``): well-formed HTML, the Markdown table, the verdict badges, escaping of a
claim's text; ``report --claims`` / ``study --claims`` refuse a malformed claims file before anything is
written; ``examples/claims.toml`` parses; the claims guide's claim-rules table is ``claim_rules()``."""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
import types
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from vaediag import report
from vaediag.cli import cli
from vaediag.errors import ConfigError
from vaediag.claims.commands import require_epochs
from vaediag.report.claims import HEADER
from vaediag.judgement.rules import Rule
from vaediag.report.sweep import build_sweep_report
from vaediag.store.rundir import Run

from fake_run import make_fake_run
from helpers import assert_one_line_error

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "docs" / "guide" / "claims.md"  # where the claim-rules table is printed
EXAMPLE = ROOT / "examples" / "claims.toml"
VOID = {"img", "meta", "br", "hr", "link", "input", "col", "source"}
EPOCHS = (2, 5, 9)
EVIL_TEXT = "digits <script>alert(1)</script> 4|9 & *5* are `mixed` [x](y)"
EVIL_RULE = "a rule with <b>markup</b> | a pipe"
COLUMNS = ["claim", "id", "text", "kind", "epochs", "verdict", "measured", "rule", "explanation", "n", "evidence"]
RULES = [Rule("overlap", "each digit's mean silhouette lies wholly below 0.25"), Rule("metric <i>", EVIL_RULE)]


def claims_frame(n: int = 1) -> pd.DataFrame:
    """Four claims, one per verdict plus an escaping case, in the columns (and their order) of check_claims."""
    evidence = [{"table": "per_class.csv", "run": "", "column": "prior_share", "epoch": 9, "key": 3,
                 "value": 0.032, "ci_low": 0.029, "ci_high": 0.036}]
    rows = [
        (1, "overlap-358", "At epoch 5 the 3s, 5s and 8s overlap", "overlap", "5", "supported",
         "silhouette of 3: 0.12 [0.10, 0.14]", "overlap: silhouette wholly below 0.25", "", n, []),
        (2, "", "By epoch 9 digit 3 is missing", "missing", "9", "refuted", "prior_share of 3: 3.2 % [2.9 %, 3.6 %]",
         "missing: share wholly below 1.0 %", "digit 3 is drawn in 3.2 % of prior samples", n, evidence),
        (3, "", "It overfits after epoch 5", "overfitting", "5 → 9", "inconclusive", "slope 0.01 [-0.02, 0.04]",
         "overfitting: slope wholly above 0", "the slope's interval straddles 0", n, []),
        (4, "evil", EVIL_TEXT, "mixed_pair", "9", "refuted", "rate 1 % | 2 %", EVIL_RULE, "<img src=x> | no", n, []),
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


@pytest.fixture
def claims_module(monkeypatch):
    """``vaediag.claims`` as the report sees it: the real package when it is installed (its claim_rules()
    replaced by known rules), else a stand-in with the interface (load_claims parses with tomllib)."""
    try:
        module = importlib.import_module("vaediag.claims")
    except ImportError:
        module = types.ModuleType("vaediag.claims")

        def load_claims(path):
            try:
                return tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{path}: TOML syntax error: {' '.join(str(exc).split())}") from None

        module.load_claims = load_claims
        module.check_claims = lambda claims, target: claims_frame()
        monkeypatch.setitem(sys.modules, "vaediag.claims", module)
    monkeypatch.setattr(module, "claim_rules", lambda: list(RULES), raising=False)
    monkeypatch.setattr("vaediag.report.claims.rules", lambda: list(RULES))  # what the report prints
    return module


class Parser(HTMLParser):
    """Checks nesting (every opened tag closed, in order) and collects the claims rows, badges and sections."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[list] = []
        self.sections, self.nav, self.rows, self.badges, self.rule_tables = [], [], [], [], []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "a" and (attrs.get("href") or "").startswith("#"):
            self.nav.append(attrs["href"])
        if tag == "script":
            self.scripts += 1
        if tag == "tr" and "claim" in classes:
            self.rows.append({**attrs, "cells": []})
        if tag not in VOID:
            self.stack.append([tag, attrs, ""])

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1][0] == tag, f"</{tag}> closes <{self.stack[-1][0] if self.stack else None}>"
        _, attrs, text = self.stack.pop()
        classes = (attrs.get("class") or "").split()
        if tag == "span" and "answer" in classes:
            self.badges.append((classes, text))
        if tag in ("th", "td") and self._in("tr", "claim"):
            self.rows[-1]["cells"].append((text, attrs))
        if tag == "table" and "claim-rules" in classes:
            self.rule_tables.append(text)

    def _in(self, tag, cls):
        return any(t == tag and cls in (a.get("class") or "").split() for t, a, _ in self.stack)

    def handle_data(self, data):
        for entry in self.stack:
            entry[2] += data


def parse(text: str) -> Parser:
    p = Parser()
    p.feed(text)
    p.close()
    assert p.stack == [], p.stack
    return p


def md_rows(md: str) -> list[list[str]]:
    """The rows of the Markdown claims table (after its header), split on the unescaped pipes."""
    lines = md.split("\n## Claims\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| # |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


# --- the run report -----------------------------------------------------------------------------------
@pytest.fixture
def built(claims_module, tmp_path):
    run = make_fake_run(tmp_path / "run", epochs=EPOCHS, write_artifacts=False)
    claims = claims_frame()
    html, md = report.build_report(run, figures={}, claims=claims)
    return run, claims, html.read_text(encoding="utf-8"), md.read_text(encoding="utf-8")


def test_run_report_claims_section_html(built):
    run, claims, text, _ = built
    p = parse(text)
    assert "claims" in p.sections and "#claims" in p.nav
    assert p.sections.index("claims") < p.sections.index("q1")  # right after the overview
    assert len(p.rows) == len(claims)
    for row, claim in zip(p.rows, claims.itertuples()):
        assert row["data-verdict"] == claim.verdict and row["data-kind"] == claim.kind
        cells = [c for c, _ in row["cells"]]
        assert len(cells) == len(HEADER)
        assert cells[0] == str(claim.claim) + (f" ({claim.id})" if claim.id else "")
        assert cells[1].startswith(claim.text)  # shown as text, unchanged (escaped in the source)
        assert cells[2] == claim.verdict
        # the rule and the explanation are folded (a claim is a row, not a screen): <details> with a summary
        why = ("why" + claim.explanation) if claim.explanation else "–"
        line, _, rest = claim.measured.partition("; ")  # the first clause shown, the rest folded under "more"
        assert cells[3:] == [line + ("more" + rest if rest else ""), "rule" + claim.rule, why]
    assert text.count("<details><summary>rule</summary>") == len(claims)
    # a badge per claim, in the classes of the run report's answers, plus the three in the explanation
    section = text[text.index('<section id="claims">'):]
    section = section[:section.index("</section>")]
    row_badges = re.findall(r'<td class="left verdict-cell"[^>]*><span class="([^"]+)">([^<]+)</span>', section)
    assert [t for _, t in row_badges] == list(claims.verdict)
    assert all(c == f"answer answer-{t}" for c, t in row_badges)
    assert ".answer-refuted{" in text  # the badge style is in the page
    # the evidence cells are the measured numbers' hover text
    measured = p.rows[1]["cells"][3][1]
    assert measured["title"] == "per_class.csv, column prior_share, epoch 9, digit 3: 0.032 [0.029, 0.036]"
    # the claim kinds' rules in the rules section
    assert len(p.rule_tables) == 1 and EVIL_RULE in p.rule_tables[0] and "metric <i>" in p.rule_tables[0]


def test_measured_numbers_show_their_first_clause_and_fold_the_rest():
    from vaediag.report.claims import ClaimRow

    row = ClaimRow("1", "t", "k", "5", "refuted", "rate 8.4 % [7.2 %, 9.7 %; Wilson], rank 1; slope 0.1 [0, 1]", "", "")
    assert row.measured_parts == ("rate 8.4 % [7.2 %, 9.7 %; Wilson], rank 1", "slope 0.1 [0, 1]")
    assert ClaimRow("1", "t", "k", "5", "refuted", "one clause", "", "").measured_parts == ("one clause", "")


def test_claim_text_is_html_escaped(built):
    _, _, text, _ = built
    p = parse(text)
    assert "<script>alert" not in text and "<img src=x>" not in text and "<b>markup" not in text
    assert p.scripts == 1  # only the page's own sort script
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_run_report_claims_section_markdown(built):
    _, claims, _, md = built
    assert "\n## Claims\n" in md
    assert md.index("\n## Claims\n") < md.index("\n## Q1")
    assert "4 claims: 1 supported, 2 refuted, 1 inconclusive" in md
    rows = md_rows(md)
    assert len(rows) == len(claims) and all(len(r) == len(HEADER) for r in rows)  # no pipe splits a row
    for row, claim in zip(rows, claims.itertuples()):
        assert row[2] == f"**{claim.verdict}**"
        assert row[1].startswith(report.md_escape(claim.text)) and f"({report.md_escape(claim.kind)}, {'epochs' if '→' in claim.epochs else 'epoch'} {claim.epochs})" in row[1]
    evil = rows[3]
    assert evil[1].startswith(r"digits \<script\>alert(1)\</script\> 4\|9 \& \*5\* are \`mixed\` \[x\](y)")
    assert evil[3] == r"rate 1 % \| 2 %" and evil[5] == r"\<img src=x\> \| no"
    assert "### How the claims are decided" in md and f"| metric \\<i\\> | {report.md_escape(EVIL_RULE)} |" in md


def test_no_claims_no_section(claims_module, tmp_path):
    run = make_fake_run(tmp_path / "run", epochs=EPOCHS, write_artifacts=False)
    html, md = report.build_report(run, figures={})
    text = html.read_text(encoding="utf-8")
    p = parse(text)
    assert "claims" not in p.sections and "#claims" not in p.nav and not p.rule_tables
    assert "## Claims" not in md.read_text(encoding="utf-8")


def test_a_claims_table_without_its_columns_is_refused_before_writing(claims_module, tmp_path):
    run = make_fake_run(tmp_path / "run", epochs=EPOCHS, write_artifacts=False)
    with pytest.raises(ValueError, match="verdict"):
        report.build_report(run, figures={}, claims=claims_frame().drop(columns="verdict"))
    assert not Run(run).report_html_path.exists()


# --- the sweep report ---------------------------------------------------------------------------------
def test_sweep_report_claims_section(claims_module, tmp_path):
    runs = [make_fake_run(tmp_path / f"mlp_z2_s{s}", seed=s, epochs=EPOCHS, write_artifacts=False) for s in (0, 1)]
    claims = claims_frame(n=2)
    html, md = build_sweep_report(runs, html_path=tmp_path / "report.html", md_path=tmp_path / "report.md",
                                  summary_path=tmp_path / "summary.csv", figures_dir=tmp_path / "figures",
                                  sweep_info={"runs": []}, claims=claims)
    text = html.read_text(encoding="utf-8")
    p = parse(text)
    assert "claims" in p.sections and "#claims" in p.nav and "&lt;script&gt;" in text and p.scripts == 1
    assert [r["data-verdict"] for r in p.rows] == list(claims.verdict) and all(r["data-n"] == "2" for r in p.rows)
    assert all("2 seeds" in r["cells"][1][0] for r in p.rows)
    assert len(p.rule_tables) == 1 and EVIL_RULE in p.rule_tables[0]  # no rules section: the rules go here
    md_text = md.read_text(encoding="utf-8")
    rows = md_rows(md_text)
    assert [r[2] for r in rows] == [f"**{v}**" for v in claims.verdict] and all(len(r) == len(HEADER) for r in rows)
    assert "### How the claims are decided" in md_text


# --- the CLI: a malformed claims file is refused before anything is written ----------------------------
BAD_TOML = '[[claim]]\ntext = "4 and 9 are mixed"\nkind = "mixed_pair\n'  # an unterminated string


def _files(path: Path) -> dict[str, float]:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in sorted(path.rglob("*"))}


def test_report_with_a_bad_claims_file_is_one_line_and_writes_nothing(claims_module, tmp_path):
    run = make_fake_run(tmp_path / "run", epochs=EPOCHS, write_artifacts=False)
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_TOML, encoding="utf-8")
    before = _files(run)
    res = CliRunner().invoke(cli, ["report", str(run), "--claims", str(bad)])
    assert_one_line_error(res, "bad.toml")
    assert _files(run) == before and not Run(run).report_html_path.exists()


@pytest.mark.parametrize("extra", [[], ["--seeds", "0,1"]])
def test_study_with_a_bad_claims_file_is_one_line_and_writes_nothing(claims_module, tmp_path, extra):
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_TOML, encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["study", "--out", str(out), "--epochs", "1", "--checkpoints", "1",
                                   "--claims", str(bad), *extra])
    assert_one_line_error(res, "bad.toml")
    assert not out.exists()


class _Claim:
    """A claim as the claims engine hands it over: the checkpoint epochs it needs, its label and field."""

    def __init__(self, position, epochs, field="epoch"):
        self.label, self._epochs, self.epoch_field = f"claim {position} ('x')", epochs, field

    def epochs(self):
        return list(self._epochs)


def test_require_epochs_names_the_claim_field_and_epoch():
    fine = types.SimpleNamespace(name="c.toml", claims=(_Claim(1, [5]), _Claim(2, [5, 15], "epochs"), _Claim(3, [])))
    require_epochs(fine, (5, 15))
    require_epochs(None, (5,))
    bad = types.SimpleNamespace(name="c.toml", claims=(_Claim(1, [5]), _Claim(2, [5, 7], "epochs")))
    with pytest.raises(ConfigError) as err:
        require_epochs(bad, (15, 5))
    assert str(err.value) == "c.toml: claim 2 ('x'): field 'epochs': epoch 7 has no checkpoint (checkpoints: 5, 15)"


@pytest.mark.parametrize("extra", [[], ["--seeds", "0,1"]])
def test_study_refuses_a_claim_on_an_epoch_it_will_not_checkpoint(tmp_path, extra):
    pytest.importorskip("vaediag.claims", reason="the claims engine is not merged on this branch")
    claims = tmp_path / "claims.toml"
    claims.write_text('[[claim]]\ntext = "at 7 the 3s and 5s overlap"\nkind = "overlap"\ndigits = [3, 5]\n'
                      'epoch = 7\n', encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["study", "--out", str(out), "--epochs", "2", "--checkpoints", "1,2",
                                   "--claims", str(claims), *extra])
    assert_one_line_error(res, "epoch")
    assert "7" in res.stderr and not out.exists()


def test_report_command_with_claims_writes_the_section(tmp_path, claims_module, monkeypatch):
    run = make_fake_run(tmp_path / "run", epochs=EPOCHS, write_artifacts=False)
    good = tmp_path / "good.toml"
    good.write_text('[[claim]]\ntext = "It collapsed at epoch 9"\nkind = "mode_collapse"\nepoch = 9\n',
                    encoding="utf-8")
    seen = []

    def check_claims(claims, target):
        seen.append(target)
        return claims_frame()

    monkeypatch.setattr(claims_module, "check_claims", check_claims)
    monkeypatch.setattr("vaediag.claims.commands.check_claims", check_claims)  # what the commands call
    monkeypatch.setattr("vaediag.plots.make_figures", lambda run, **kw: {})  # no drawing: the section is the test
    res = CliRunner().invoke(cli, ["report", str(run), "--claims", str(good)])
    assert res.exit_code == 0, res.output
    assert seen == [str(run)]
    p = parse(Run(run).report_html_path.read_text(encoding="utf-8"))
    assert [r["data-verdict"] for r in p.rows] == list(claims_frame().verdict)


# --- the example claims file and the README --------------------------------------------------------------
EXPECTED_KINDS = {  # the example's kinds -> the fields each must have
    "overlap": {"digits", "epoch"}, "separated": {"digits", "epoch"}, "mixed_pair": {"digits", "epoch"},
    "missing": {"digits", "epoch", "source"}, "mode_collapse": {"epoch"}, "rare": {"digits", "epoch", "source"},
    "overfitting": {"after"}, "quality": {"epochs", "direction"}, "diversity": {"epochs", "direction"},
    "bottleneck": set(), "metric": {"column", "epoch", "operator", "value"},
}
DEFAULT_CHECKPOINTS = {5, 15, 30, 50, 100}


def test_example_claims_file_parses():
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    claims = data["claim"]
    assert {c["kind"] for c in claims} == set(EXPECTED_KINDS)
    for c in claims:
        assert c["text"].strip() and c["id"].strip()
        assert EXPECTED_KINDS[c["kind"]] <= set(c), c
        epochs = [c[k] for k in ("epoch", "after") if k in c] + list(c.get("epochs", []))
        assert set(epochs) <= DEFAULT_CHECKPOINTS, c  # the default study's checkpoints
        assert all(0 <= d <= 9 for d in c.get("digits", []))
    assert len({c["id"] for c in claims}) == len(claims)
    # every claim has a comment, right above it, saying what picture the student looked at
    before = EXAMPLE.read_text(encoding="utf-8").split("[[claim]]")[:-1]
    assert len(before) == len(claims)
    assert all("# Picture:" in text.rsplit("\n\n", 1)[-1] for text in before)


def test_example_claims_file_loads_with_the_claims_loader():
    claims = pytest.importorskip("vaediag.claims", reason="the claims engine is not merged on this branch")
    loaded = claims.load_claims(EXAMPLE)
    assert [c.kind for c in loaded.claims] == [c["kind"] for c in tomllib.loads(EXAMPLE.read_text())["claim"]]


def test_readme_documents_every_kind_of_the_example():
    section = README.read_text(encoding="utf-8")  # the claims guide
    for kind in EXPECTED_KINDS:
        assert f"| `{kind}` |" in section, kind
    front = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "vaediag check examples/claims.toml runs/study" in front.split("## Documentation", 1)[0]


def test_readme_claim_rules_table_is_claim_rules():
    """The claims guide prints the claim rules through the docs' generator (``vaediag-table claim-rules``)."""
    guide = README.read_text(encoding="utf-8")
    assert "```{vaediag-table} claim-rules\n```" in guide
    assert "| Claim: overlap |" not in guide and "claim-rules:start" not in guide  # no hand copy to go stale
    claims = pytest.importorskip("vaediag.claims", reason="the claims engine is not merged: the table comes then")
    assert hasattr(claims, "claim_rules")
    assert report.claim_rules_markdown().startswith("| claim kind | rule |")
