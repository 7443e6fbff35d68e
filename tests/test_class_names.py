"""Classes with their names (issue 11, point 6): the tables, the report and the claims of a Fashion-MNIST run name
its classes ("Shirt"), an MNIST run reads as before ("digit 6"), and tables written by vaediag 0.3 (``digit``
columns) still read."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_run import make_fake_run
from helpers import assert_one_line_error

from vaediag import columns as C
from vaediag.claims import check_claims
from vaediag.claims.schema import ClaimsError
from vaediag.cli import cli
from vaediag.report.content import build_content
from vaediag.report.render import render_markdown
from vaediag.store.rundir import Run

# torchvision's FashionMNIST.classes, in label order (written out here, not read from vaediag)
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
EPOCHS = (5, 30)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A "collapse" run (classes 2 and 3 missing at epoch 30) on each dataset, and a 0.3-style MNIST run."""
    root = tmp_path_factory.mktemp("classes")
    return {
        "fashion": Run(make_fake_run(root / "fashion", epochs=EPOCHS, scenario="collapse", dataset="fashion-mnist")),
        "mnist": Run(make_fake_run(root / "mnist", epochs=EPOCHS, scenario="collapse")),
        "legacy": Run(make_fake_run(root / "legacy", epochs=EPOCHS, scenario="collapse", legacy=True)),
    }


def test_per_class_and_pairs_name_the_classes_of_the_runs_dataset(runs):
    fashion = runs["fashion"]
    assert fashion.dataset == "fashion-mnist"
    for run, names in ((fashion, FASHION), (runs["mnist"], [str(i) for i in range(10)])):
        pc = Run(run.path).per_class  # read back from disk
        assert list(pc.columns[:4]) == [C.SOURCE, C.EPOCH, C.CLASS, C.CLASS_NAME]
        assert "digit" not in pc.columns
        for _, row in pc.iterrows():
            assert row[C.CLASS_NAME] == names[int(row[C.CLASS])]
        pairs = Run(run.path).pairs
        assert {C.CLASS_A, C.CLASS_B, C.CLASS_A_NAME, C.CLASS_B_NAME} <= set(pairs.columns)
        assert all(pairs[C.CLASS_A_NAME] == [names[a] for a in pairs[C.CLASS_A]])
        assert all(pairs[C.CLASS_B_NAME] == [names[b] for b in pairs[C.CLASS_B]])
    # the fabricated most mixed pair is (4, 9): "4-9" on MNIST, both names on Fashion-MNIST
    assert Run(runs["mnist"].path).metrics.loc[30, C.MOST_MIXED_PAIR] == "4-9"
    assert Run(fashion.path).metrics.loc[30, C.MOST_MIXED_PAIR] == "Coat & Ankle boot"


def test_tables_written_by_vaediag_0_3_still_read(runs):
    legacy = runs["legacy"]
    on_disk = (legacy.path / "per_class.csv").read_text().splitlines()[0].split(",")
    assert "digit" in on_disk and C.CLASS not in on_disk  # the file really is 0.3-style
    assert "digit_a" in (legacy.path / "pairs.csv").read_text().splitlines()[0]
    run = Run(legacy.path)
    pc, pairs = run.per_class, run.pairs
    assert C.CLASS in pc.columns and "digit" not in pc.columns
    assert list(pc[C.CLASS_NAME].head(10)) == [str(i) for i in range(10)]  # MNIST, names as text
    assert {C.CLASS_A, C.CLASS_B, C.CLASS_A_NAME, C.CLASS_B_NAME} <= set(pairs.columns)
    assert list(pairs.columns).index(C.CONFUSION_RATE) == len(pairs.columns) - 1
    md = render_markdown(build_content(run), {})
    # evaluated before the second judge: the report reads, but makes no share verdict (re-evaluating adds the judge)
    assert "evaluated without the second judge" in md and "Both judges find prior samples missing" not in md


def test_the_report_names_fashion_classes_where_mnist_names_digits(runs):
    mnist = render_markdown(build_content(runs["mnist"]), {})
    fashion = render_markdown(build_content(runs["fashion"]), {})
    assert mnist.splitlines()[0].endswith("mnist") and "Fashion" not in mnist
    assert fashion.splitlines()[0].endswith("on Fashion-MNIST")
    # classes 2 and 3 are missing at the last checkpoint
    assert "Both judges find prior samples missing digit 2" in mnist and "digit 3" in mnist
    assert "Both judges find prior samples missing Pullover" in fashion and "Dress" in fashion
    assert "| Pullover, Dress |" in fashion and "| 2, 3 |" in mnist  # the verdict table's "missing" cells
    assert "Coat ↔ Ankle boot" in fashion and "4↔9" in mnist  # the most mixed pair
    assert "Q1 — Do the classes form separate clusters" in fashion
    assert "Q1 — Do the digits form separate clusters" in mnist
    assert "real test images" in fashion and "real test digits" in mnist
    prose = [line for line in fashion.split("## Per-epoch table")[0].splitlines()]
    assert not any("digit" in line for line in prose), [line for line in prose if "digit" in line]


def test_a_claim_by_class_name_gets_a_verdict(runs):
    fashion = runs["fashion"]
    by_name = check_claims([
        {"text": "pullovers and dresses vanish", "kind": "missing", "classes": ["Pullover", "dress"], "epoch": 30},
        {"text": "coats and boots mix", "kind": "mixed_pair", "classes": ["coat", "Ankle boot"], "epoch": 30},
        {"text": "bags are drawn", "kind": "metric", "column": "prior_share", "class": "Bag", "epoch": 30,
         "operator": ">", "value": 0.05},
    ], fashion)
    by_index = check_claims([
        {"text": "2 and 3 vanish", "kind": "missing", "classes": [2, 3], "epoch": 30},
        {"text": "4 and 9 mix", "kind": "mixed_pair", "digits": [4, 9], "epoch": 30},
        {"text": "8 is drawn", "kind": "metric", "column": "prior_share", "digit": 8, "epoch": 30,
         "operator": ">", "value": 0.05},
    ], fashion)
    assert list(by_name.verdict) == list(by_index.verdict)
    assert by_name.verdict[0] == "supported"  # the fabricated collapse removes classes 2 and 3
    assert "Coat & Ankle boot" in by_name.measured[1]
    assert "Pullover" in by_name.measured[0] and "digit" not in by_name.measured[0]
    assert list(by_name.measured) == list(by_index.measured)  # "Bag" is class 8 of Fashion-MNIST


def test_an_unknown_class_name_is_a_one_line_error_naming_claim_field_and_names(runs, tmp_path):
    with pytest.raises(ClaimsError) as err:
        check_claims([{"text": "socks vanish", "kind": "missing", "classes": ["Sock"], "epoch": 30}], runs["fashion"])
    message = str(err.value)
    assert "\n" not in message and "claim 1" in message and "'classes'" in message
    assert "'Sock'" in message and "'Ankle boot'" in message
    with pytest.raises(ClaimsError, match="'Shirt' is not a digit of MNIST"):
        check_claims([{"text": "x", "kind": "missing", "classes": ["Shirt"], "epoch": 30}], runs["mnist"])
    claims = tmp_path / "bad.toml"
    claims.write_text('[[claim]]\ntext = "socks"\nkind = "overlap"\nclasses = ["Sock", "Shirt"]\nepoch = 30\n')
    out = tmp_path / "out.md"
    res = CliRunner().invoke(cli, ["check", str(claims), str(runs["fashion"].path), "--out", str(out)])
    assert_one_line_error(res, "field 'classes': 'Sock' is not a class of Fashion-MNIST")
    assert not out.exists()


def test_both_spellings_at_once_are_refused():
    from vaediag.claims.schema import parse_claims

    with pytest.raises(ClaimsError, match="give either 'classes' or 'digits'"):
        parse_claims([{"text": "x", "kind": "overlap", "classes": [1], "digits": [1], "epoch": 5}])


def test_the_fashion_example_claims_check_against_a_fashion_run(tmp_path):
    run = make_fake_run(tmp_path / "run", epochs=EPOCHS, scenario="window", dataset="fashion-mnist")
    res = CliRunner().invoke(cli, ["check", str(EXAMPLES / "claims-fashion.toml"), str(run), "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert res.output.count("\n") >= 5 and "Shirt" in res.output


def test_sweep_report_of_fashion_runs_names_classes(tmp_path):
    """The sweep report of Fashion-MNIST runs: section titles, sentences and the missing-class table name the
    classes; the same sweep on MNIST keeps its digit words."""
    from vaediag.report.sweep import build_sweep_report

    texts = {}
    for dataset in ("fashion-mnist", "mnist"):
        dirs = [make_fake_run(tmp_path / dataset / f"s{seed}", epochs=EPOCHS, scenario="collapse", seed=seed,
                              dataset=dataset) for seed in (0, 1)]
        out = tmp_path / dataset / "report"
        html, md = build_sweep_report(dirs, html_path=out / "report.html", md_path=out / "report.md",
                                      summary_path=out / "summary.csv", figures_dir=out / "figures",
                                      sweep_info={"grid": {"seed": [0, 1]}, "runs": []})
        texts[dataset] = html.read_text(encoding="utf-8") + md.read_text(encoding="utf-8")
    fashion, mnist = texts["fashion-mnist"], texts["mnist"]
    assert "Missing classes and collapse verdicts" in fashion and "Missing digits" not in fashion
    assert all(f"<th scope=\"col\">{name}</th>" in fashion for name in ("Pullover", "Dress", "Ankle boot"))
    assert "Do the classes form separate clusters?" in fashion and "Do the digits form separate clusters?" in mnist
    assert "<th scope=\"col\">digit 2</th>" in mnist and "Missing digits and collapse verdicts" in mnist


def test_figure_titles_speak_of_the_runs_classes(runs):
    from vaediag.plots.curves import curve_figure, draw_entropy, separation_figure
    from vaediag.plots.grids import recon_pairs_page  # noqa: F401  (title built from run.classes.item)

    fashion = [t.get_text() for ax in separation_figure(runs["fashion"]).axes for t in (ax.title,)]
    assert any("latent separation of the classes" in t for t in fashion)
    fig = curve_figure(draw_entropy, runs["fashion"])
    labels = [t.get_text() for ax in fig.axes for t in (ax.title, *(ax.get_legend().get_texts() if ax.get_legend() else []))]
    assert "diversity of generated images (1 = all classes equally)" in labels
    assert not any("digit" in t for t in labels)
    mnist = [ax.title.get_text() for ax in separation_figure(runs["mnist"]).axes]
    assert any("latent separation of the digits" in t for t in mnist)
