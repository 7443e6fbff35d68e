"""The two judges of generated digits and the verdicts they gate, on inputs whose answers are known by construction:
the unreadable bucket (a judge stub whose probabilities follow from the image), the code judge on constructed latent
layouts, the classifier's validity on a model's reconstructions, verdicts and claims that decide only where both
judges agree, and a deterministic encoder (no prior: not applicable)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as st
from scipy.spatial.distance import cdist
from torch import nn

import vaediag
from vaediag import columns as C
from vaediag import report
from vaediag.claims import check_claims, parse_claims
from vaediag.datasets.classifier import classify
from vaediag.evaluate.cache import CACHE_FORMAT, cache_key
from vaediag.evaluate.reference import Reference
from vaediag.evaluate.settings import EvalSettings
from vaediag.judgement.judges import cannot_read, recon_check
from vaediag.judgement.rules import RECALL_GAP, RECON_READ_MIN
from vaediag.metrics.generation import (UNREADABLE, UNREADABLE_BELOW, class_counts, class_shares, histogram_metrics,
                                        judged_labels, readability_metrics, sample_prior)
from vaediag.metrics.judges import OFF_CODES_QUANTILE, agreement, class_recall, code_judge
from vaediag.report import VerdictEvidence, collapse_verdict
from vaediag.store.rundir import Run

import external_models as X
from eval_fixtures import SquareJudge, one_thread  # noqa: F401  (one_thread: autouse)
from fake_run import agreeing_code_judge, make_fake_run
from helpers import synthetic_digits

N = 10000
UNIFORM = np.full(10, 0.1)
HIGH = (0.97, 0.99)  # an entropy interval wholly above COLLAPSE_ENTROPY
SMALL = EvalSettings(samples=2000, grid=5, iwae=0)
QUIET = dict(log=lambda *_: None)


def wilson(k: int, n: int) -> tuple[float, float]:
    """scipy's Wilson interval (independent of vaediag.stats)."""
    ci = st.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def constructed_images(n: int = 40, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"blank": torch.zeros(n, 1, 28, 28), "grey": torch.full((n, 1, 28, 28), 0.5),
            "noise": torch.rand(n, 1, 28, 28, generator=g)}


# ============================================================================================ the unreadable bucket
def test_blank_grey_and_noise_images_are_unreadable_and_counted_in_no_class():
    judge, digits = SquareJudge(), synthetic_digits(n_test=50)
    images = constructed_images()
    junk = torch.cat(list(images.values()))
    real = digits.test_images.float().div(255).unsqueeze(1)
    probs = classify(judge, torch.cat([junk, real])).probs
    labels = judged_labels(probs)
    assert (labels[: len(junk)] == UNREADABLE).all()  # each top probability is below UNREADABLE_BELOW
    assert probs[: len(junk)].max() < UNREADABLE_BELOW
    np.testing.assert_array_equal(labels[len(junk):], digits.test_labels.numpy())  # the digits are read
    found = readability_metrics(probs)
    assert found[C.UNREADABLE_SHARE] == len(junk) / len(probs)
    assert (found[C.UNREADABLE_SHARE + "_ci_low"], found[C.UNREADABLE_SHARE + "_ci_high"]) == pytest.approx(
        wilson(len(junk), len(probs)), abs=1e-12)
    assert found[C.N_READABLE] == 50
    # the class shares count the 50 readable digits only: the test labels' shares, not 120 more "somethings"
    np.testing.assert_allclose(class_shares(probs), np.bincount(digits.test_labels.numpy(), minlength=10) / 50)
    assert class_counts(probs).sum() == 50


def test_a_blurrier_model_shows_more_unreadable_samples_never_more_of_one_digit():
    """Blurred samples that a confused judge leans to call "8" (top probability 0.4): the argmax histogram would
    make 8 over-drawn; the bucket keeps the shares and reports the blur as unreadable samples."""
    sharp = np.eye(10)[np.repeat(np.arange(10), 100)] * 0.97 + 0.003
    blurred = np.full((400, 10), 0.6 / 9)
    blurred[:, 8] = 0.4
    probs = np.vstack([sharp, blurred])
    assert np.argmax(probs, axis=1).tolist().count(8) == 500  # what counting the argmax would say: 8 is 36 %
    shares = class_shares(probs)
    np.testing.assert_allclose(shares, UNIFORM)
    assert readability_metrics(probs)[C.UNREADABLE_SHARE] == pytest.approx(400 / 1400)
    metrics = histogram_metrics(probs, np.repeat(np.arange(10), 10))
    assert metrics[C.ENTROPY_NORM] == pytest.approx(1.0) and metrics[C.MODES_COVERED] == 10
    assert metrics[C.CONFIDENCE] == pytest.approx((1000 * 0.973 + 400 * 0.4) / 1400)  # quality sees the blur
    # nothing readable at all: no histogram (NaN), never "every digit 0 %"
    assert np.isnan(class_shares(blurred)).all() and np.isnan(histogram_metrics(blurred, np.arange(10))[C.ENTROPY])
    assert (judged_labels(probs, unreadable_below=0.0) == np.argmax(probs, axis=1)).all()  # 0: no bucket


def _shipped_judge_is_calibrated() -> bool:
    from vaediag.datasets.classifier import read_info

    return "temperature" in read_info()


@pytest.mark.mnist
@pytest.mark.xfail(not _shipped_judge_is_calibrated(), strict=True,
                   reason="the shipped judge is not calibrated: it reads a blank image as 1 and grey or uniform "
                          "noise as 8, each with probability 1.0 (docs/guide/evaluation.md)")
def test_the_shipped_judge_cannot_read_blank_grey_or_noise_images():
    from vaediag.datasets.classifier import load_classifier

    judge = load_classifier("cpu")
    for name, images in constructed_images(200).items():
        labels = judged_labels(classify(judge, images).probs)
        assert (labels == UNREADABLE).mean() >= 0.99, name


# ============================================================================================ the code judge
def _clusters(d: int, per_class: int, spread: float, seed: int, radius: float = 10.0):
    """Ten classes, each a Gaussian blob of ``spread`` around its own centre (far apart: ``radius``)."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((10, d))
    centres[:, 0], centres[:, 1] = radius * np.cos(np.arange(10) * 0.2 * np.pi), radius * np.sin(np.arange(10) * 0.2 * np.pi)
    labels = np.repeat(np.arange(10), per_class)
    return centres[labels] + rng.normal(0, spread, (len(labels), d)), labels, centres


@pytest.mark.parametrize("d", [2, 20])
def test_well_separated_clusters_the_two_judges_agree(d):
    codes, labels, centres = _clusters(d, 200, 0.5, seed=0)
    held_out, _, _ = _clusters(d, 200, 0.5, seed=1)
    z, truth, _ = _clusters(d, 100, 0.5, seed=2)  # prior samples drawn where the codes are
    image = np.argmin(cdist(z, centres), axis=1)  # what a decoder that draws the nearest cluster's digit shows
    assert (image == truth).mean() > 0.999
    found = code_judge(z, codes, labels, held_out, k=5)
    named = found.labels >= 0
    assert 0.95 <= named.mean() <= 1.0  # ~1 % off the codes by the 99th-percentile rule, no more
    assert (found.labels[named] == truth[named]).all()
    agree = agreement(image, found.labels)
    assert agree.share == 1.0 and agree.n == named.sum() and agree.low > 0.99
    np.testing.assert_array_equal(agree.class_share, np.ones(10))


def test_prior_samples_far_from_every_code_are_named_by_no_one():
    codes, labels, _ = _clusters(2, 100, 0.5, seed=0)
    held_out, _, _ = _clusters(2, 100, 0.5, seed=1)
    far = np.random.default_rng(3).normal(0, 1, (500, 2)) + 100.0  # a region the encoder never uses
    found = code_judge(far, codes, labels, held_out, k=5)
    assert (found.labels == -1).all() and found.off.all()
    share, low, high = found.off_share
    assert share == 1.0 and (low, high) == pytest.approx(wilson(500, 500), abs=1e-12)
    agree = agreement(np.zeros(500, dtype=int), found.labels)
    assert agree.n == 0 and math.isnan(agree.share) and np.isnan(agree.class_share).all()
    # without held-out codes there is no distance limit: every sample is named (the nearest cluster's class)
    assert (code_judge(far, codes, labels, None, k=5).labels >= 0).all()


def test_the_off_codes_limit_is_the_held_out_codes_quantile():
    codes, labels, _ = _clusters(3, 50, 1.0, seed=0, radius=3.0)
    held_out, _, _ = _clusters(3, 50, 1.0, seed=1, radius=3.0)
    z = np.random.default_rng(4).normal(0, 3, (400, 3))
    found = code_judge(z, codes, labels, held_out, k=5)
    kth = np.sort(cdist(held_out, codes), axis=1)[:, 4]  # each held-out code's 5th nearest test code
    limit = np.quantile(kth, OFF_CODES_QUANTILE)
    assert found.limit == pytest.approx(limit, rel=1e-5)
    distance = np.sort(cdist(z, codes), axis=1)[:, 4]
    np.testing.assert_allclose(found.distance, distance, rtol=1e-5)
    np.testing.assert_array_equal(found.off, distance > found.limit)


def test_the_code_judge_votes_by_majority_and_ties_go_to_the_smaller_label():
    codes = np.array([[0.0], [0.1], [0.2], [0.3], [0.4], [5.0]])
    labels = np.array([7, 3, 5, 3, 5, 1])
    found = code_judge(np.array([[0.2], [5.0]]), codes, labels, None, k=5)
    assert found.labels[0] == 3  # 3 and 5 have two votes each, 7 one: the smaller of the tied labels
    assert found.labels[1] == 3  # the five nearest of 5.0: 1, 5, 3, 5, 3 -> 3 and 5 tie again


def test_agreement_overall_and_per_class_on_constructed_labels():
    a = np.array([0, 0, 1, 1, 2, -1, 2])
    b = np.array([0, 1, 1, 1, -1, 2, 2])
    agree = agreement(a, b)
    assert (agree.share, agree.n) == (4 / 5, 5)  # samples 0-3 and 6 are named by both; 0, 2, 3, 6 alike
    assert (agree.low, agree.high) == pytest.approx(wilson(4, 5), abs=1e-12)
    assert agree.class_share[0] == 1 / 2  # class 0: samples 0 and 1 (either judge), both say 0 on sample 0
    assert agree.class_share[1] == 2 / 3 and agree.class_share[2] == 1.0
    assert np.isnan(agree.class_share[3:]).all()


def test_class_recall_counts_an_unreadable_reading_as_a_miss():
    recall, low, high = class_recall(np.array([0, -1, 0, 1, 1, 1]), np.array([0, 0, 1, 1, 1, 1]))
    assert recall[0] == 0.5 and recall[1] == 0.75 and np.isnan(recall[2:]).all()
    assert (low[1], high[1]) == pytest.approx(wilson(3, 4), abs=1e-12)


# ============================================================================================ judge validity
@pytest.mark.parametrize("high, knn, flagged", [
    (RECON_READ_MIN - 0.01, 0.40, True),  # below the floor, whatever the codes do
    (0.60, 0.60 + RECALL_GAP + 0.01, True),  # the codes keep the digit apart, the judge loses it
    (0.60, 0.60 + RECALL_GAP - 0.01, False),
    (RECON_READ_MIN + 0.01, float("nan"), False),  # no kNN recall: the floor alone
    (float("nan"), 0.99, False),  # not measured: not flagged
])
def test_the_judge_cannot_read_a_digit_below_the_floor_or_far_below_the_codes(high, knn, flagged):
    recall_high, knn_recall = np.full(10, 0.95), np.full(10, 0.96)
    recall_high[4], knn_recall[4] = high, knn
    assert cannot_read(recall_high, knn_recall) == ((4,) if flagged else ())


def test_a_digit_the_judge_cannot_read_leaves_its_verdicts_open_even_when_the_judges_agree():
    shares = UNIFORM.copy()
    shares[3] = 0.0
    shares /= shares.sum()
    recall_high, knn = np.full(10, 0.97), np.full(10, 0.95)
    recall_high[3] = 0.004  # the judge reads none of this model's 3s, while the codes keep 3 apart
    ev = VerdictEvidence(0.97, 0.97, 0.99, prior_shares=shares, grid_shares=UNIFORM, prior_samples=N,
                         prior_entropy_ci=HIGH, recon_recall_high=recall_high, knn_recall=knn,
                         **agreeing_code_judge(shares, HIGH))
    v = collapse_verdict(ev)
    assert v.kind == "inconclusive" and v.prior_missing == () and v.judge_unreadable == (3,)
    assert v.prior_uncertain == (3,)
    assert collapse_verdict(dataclasses.replace(ev, recon_recall_high=np.full(10, 0.97))).kind == "mode-collapse"


@pytest.mark.parametrize("accuracy, ci, knn, kind", [
    (0.64, (0.63, 0.65), 0.92, "unreliable"),  # the pytorch/examples VAE under the old judge: 0.92 - 0.25 = 0.67
    (0.45, (0.44, 0.46), 0.40, "unreliable"),  # below the floor
    (0.70, (0.69, 0.71), 0.92, "healthy"),  # 0.69 is not wholly below 0.67
])
def test_the_unreliable_guard_fires_when_the_judge_cannot_read_the_reconstructions(accuracy, ci, knn, kind):
    check = recon_check(accuracy, *ci, knn)
    assert check.threshold == pytest.approx(max(RECON_READ_MIN, knn - RECALL_GAP))
    v = collapse_verdict(VerdictEvidence(0.99, 0.99, 0.99, prior_shares=UNIFORM, grid_shares=UNIFORM,
                                         prior_samples=N, prior_entropy_ci=HIGH, recon_accuracy=accuracy,
                                         recon_accuracy_ci=ci, knn_accuracy=knn,
                                         reference_entropy_norm=0.99, **agreeing_code_judge(UNIFORM, HIGH)))
    assert v.kind == kind


# ============================================================================================ verdicts from agreeing judges
def _with(digit: int, share: float) -> np.ndarray:
    s = UNIFORM * (1 - share) / 0.9
    s[digit] = share
    return s


def _code(shares, entropy_ci=HIGH) -> dict:
    return agreeing_code_judge(shares, entropy_ci, N)


@pytest.mark.parametrize("image, code, image_ci, code_ci, kind, missing, disagree", [
    (_with(4, 0.0), _with(4, 0.0), HIGH, HIGH, "mode-collapse", (4,), ()),  # both: missing
    (_with(4, 0.0), _with(4, 0.09), HIGH, HIGH, "inconclusive", (), (4,)),  # classifier only
    (_with(4, 0.09), _with(4, 0.0), HIGH, HIGH, "inconclusive", (), (4,)),  # code judge only
    (UNIFORM, UNIFORM, HIGH, HIGH, "healthy", (), ()),  # both: drawn
    (UNIFORM, UNIFORM, (0.80, 0.85), (0.80, 0.85), "imbalance", (), ()),  # both entropies below 0.9
    (UNIFORM, UNIFORM, (0.80, 0.85), HIGH, "inconclusive", (), ()),  # the judges disagree on the entropy
])
def test_share_verdicts_are_decided_only_where_both_judges_agree(image, code, image_ci, code_ci, kind, missing,
                                                                disagree):
    v = collapse_verdict(VerdictEvidence(float(np.mean(image_ci)), 0.99, 0.99, prior_shares=image, grid_shares=UNIFORM,
                                         prior_samples=N, prior_entropy_ci=image_ci, data_shares=UNIFORM,
                                         **_code(code, code_ci)))
    assert (v.kind, v.prior_missing, v.judges_disagree) == (kind, missing, disagree)


def test_a_run_without_the_code_judge_gets_no_share_verdict(tmp_path):
    run = Run(make_fake_run(tmp_path / "run", epochs=(5, 30), scenario="collapse", write_artifacts=False, legacy=True))
    v = report.run_verdict(run, 30)
    assert v.kind == "inconclusive" and not v.code_judge and v.prior_missing == ()
    content = report.build_content(run)
    assert "evaluated without the second judge" in " ".join(s.plain() for s in content.sections["verdict"])
    _, md = report.build_report(run, figures={})  # the judges' table says what was not measured
    assert "| not measured |" in md.read_text(encoding="utf-8")


def test_a_model_whose_samples_no_judge_can_read_is_reported_not_crashed(tmp_path):
    """A barely trained model draws blurs the stub cannot read and codes every prior sample lies off: the tables
    say so (100 % unreadable, no class histogram), the verdict claims nothing about modes, the report and figures
    are built."""
    from eval_fixtures import FAST
    from vaediag.models.train_config import TrainConfig
    from vaediag.plots import make_figures
    from vaediag.train import train

    data = synthetic_digits()
    cfg = TrainConfig(model="mlp", epochs=1, checkpoints=(1,), batch_size=64, seed=0, device="cpu")
    train(cfg, tmp_path / "run", data=data, progress=False, **QUIET)
    ev = vaediag.evaluate_run(tmp_path / "run", settings=FAST, data=data, classifier=SquareJudge(), device="cpu",
                              **QUIET)
    row = ev.metrics.loc[1]
    assert row[C.PRIOR + C.UNREADABLE_SHARE] == 1.0 and row[C.PRIOR + C.N_READABLE] == 0
    assert math.isnan(row[C.PRIOR + C.ENTROPY_NORM]) and math.isnan(row[C.PRIOR_ENTROPY_NORM_CI_LOW])
    assert ev.per_class.query("source == 'model'")[C.CLASS_PRIOR_SHARE].isna().all()
    run = Run(tmp_path / "run")
    assert report.run_verdict(run, 1).kind not in ("mode-collapse", "imbalance", "healthy", "window", "resolution")
    _, md = report.build_report(run, figures=make_figures(run))
    text = md.read_text(encoding="utf-8")
    assert "cannot read (top class probability below 0.5) is 100.0 %" in text


def _disagreeing_run(tmp_path) -> Run:
    """The "collapse" scenario (digits 2 and 3 missing) with a code judge that finds digit 2 at 10 %."""
    run = Run(make_fake_run(tmp_path / "run", epochs=(5, 30), scenario="collapse", write_artifacts=False))
    ev = run.evaluation
    pc = ev.per_class.copy()
    at = (pc[C.SOURCE] == C.SOURCE_MODEL) & (pc[C.EPOCH] == 30) & (pc[C.CLASS] == 2)
    pc.loc[at, [C.CLASS_PRIOR_CODE_SHARE, C.CLASS_PRIOR_CODE_SHARE_CI_LOW, C.CLASS_PRIOR_CODE_SHARE_CI_HIGH]] = \
        [0.1, *wilson(100, 1000)]
    run.write_evaluation(dataclasses.replace(ev, per_class=pc, artifacts={}), versions={})
    return Run(run.path)


def test_disagreeing_judges_are_quoted_with_both_numbers(tmp_path):
    run = _disagreeing_run(tmp_path)
    v = report.run_verdict(run, 30)
    assert v.kind == "mode-collapse" and v.prior_missing == (3,) and v.judges_disagree == (2,)
    table = report.verdict_table(run)
    assert table.loc[30, "judges disagree"] == "2" and table.loc[30, "missing from prior"] == "3"
    claims = parse_claims({"claim": [
        {"text": "2 is missing", "kind": "missing", "epoch": 30, "digits": [2]},
        {"text": "3 is missing", "kind": "missing", "epoch": 30, "digits": [3]},
        {"text": "2 and 3 collapsed", "kind": "mode_collapse", "epoch": 30, "digits": [2, 3]}]})
    rows = check_claims(claims, run).set_index("text")
    two = rows.loc["2 is missing"]
    assert two.verdict == "inconclusive" and "the judges disagree on digit 2" in two.explanation
    assert "(image judge)" in two.measured and "10.0 % [8.3 %, 12.0 %] (code judge)" in two.measured
    assert "the image judge read 980 of 1000 prior samples, the code judge named 1000" in two.measured
    assert rows.loc["3 is missing"].verdict == "supported"
    both = rows.loc["2 and 3 collapsed"]
    assert both.verdict == "inconclusive" and "(code judge)" in both.measured
    md = report.build_report(run, figures={})[1].read_text(encoding="utf-8")
    assert "Both judges at epoch 30" in md and "the two judges disagree" in md


def test_a_digit_the_judge_cannot_read_is_named_with_its_recall_in_report_and_claims(tmp_path):
    run = Run(make_fake_run(tmp_path / "run", epochs=(5, 30), scenario="misread", write_artifacts=False))
    v = report.run_verdict(run, 30)
    assert v.kind == "inconclusive" and v.judge_unreadable == (3, 5)
    text = " ".join(s.plain() for s in report.build_content(run).sections["verdict"])
    assert "cannot read this model's drawings of digit 3 (read in 0.0 %" in text and "latent kNN recall 70.0 %" in text
    claims = parse_claims({"claim": [{"text": "3 is missing", "kind": "missing", "epoch": 30, "digits": [3]},
                                     {"text": "8 is over-drawn", "kind": "overrepresented", "epoch": 30,
                                      "digits": [8]}]})
    rows = check_claims(claims, run).set_index("text")
    assert rows.loc["3 is missing"].verdict == "inconclusive"
    assert "cannot read this model's drawings of digit 3" in rows.loc["3 is missing"].explanation
    # the classifier reads half the samples as 8, the code judge about 10 %: no verdict on 8 either
    eight = rows.loc["8 is over-drawn"]
    assert eight.verdict == "inconclusive" and "the judges disagree on digit 8" in eight.explanation


def test_a_deterministic_encoder_gets_no_prior_based_verdict_said_once(tmp_path):
    run = Run(make_fake_run(tmp_path / "run", epochs=(5, 30), scenario="collapse", write_artifacts=False,
                            deterministic=True))
    assert report.run_verdict(run, 30).kind == "not-applicable"
    assert list(report.verdict_table(run)["verdict"]) == ["not-applicable"] * 2
    _, md_path = report.build_report(run, figures={})
    md = md_path.read_text(encoding="utf-8")
    assert md.count("the encoder is deterministic") == 1  # the verdict line; no sentence repeats it
    claims = parse_claims({"claim": [{"text": "2 is missing", "kind": "missing", "epoch": 30, "digits": [2]},
                                     {"text": "it collapsed", "kind": "mode_collapse", "epoch": 30}]})
    rows = check_claims(claims, run)
    assert list(rows.verdict) == ["inconclusive", "inconclusive"]
    assert all("not applicable" in e for e in rows.explanation)


# ============================================================================================ end to end
class ClusterVAE(nn.Module):
    """A VAE whose answers are known: the encoder puts each synthetic digit in its class's sector of the plane (ten
    sectors around the origin; the class read from the digit's bright square, the angle within the sector and the
    radius from two uniform numbers hashed from the image's noise, the radius distributed like the norm of a 2-D
    standard normal up to 2.45, so the codes fill the prior's disc); the decoder draws the synthetic digit of the
    sector a code lies in, or a blank image beyond ``blank_beyond`` (unreadable by construction)."""

    latent_dim = 2

    def __init__(self, blank_beyond: float = 2.5):
        super().__init__()
        self.judge, self.blank_beyond = SquareJudge(), blank_beyond
        angles = torch.arange(10) * 2 * math.pi / 10
        self.register_buffer("centres", torch.stack([angles.cos(), angles.sin()], 1))
        # the images' noise (uniform 0-40 of 255 per pixel) projected to two numbers of standard deviation ~1
        self.register_buffer("project", torch.randn(784, 2, generator=torch.Generator().manual_seed(0)) / (28 * 0.045))
        digits = torch.full((10, 28, 28), 0.08)
        for c in range(10):
            r, k = 2 + (c // 5) * 12, 2 + (c % 5) * 5
            digits[c, r : r + 6, k : k + 6] = 0.9
        self.register_buffer("digits", digits)

    def encode(self, x):
        x = x.reshape(-1, 1, 28, 28).float()
        classes = self.judge.features(x).argmax(1)
        flat = x.reshape(len(x), -1)
        p = 1000 * (flat - flat.mean(1, keepdim=True)) @ self.project
        u = p - p.floor()  # ~uniform in [0, 1)
        radius = torch.sqrt(-2 * torch.log1p(-0.95 * u[:, 0]))
        angle = classes * 2 * math.pi / 10 + (u[:, 1] - 0.5) * 2 * math.pi / 10
        return torch.stack([radius * angle.cos(), radius * angle.sin()], 1), torch.full((len(x), 2), -6.0)

    def decode(self, z):
        nearest = torch.cdist(z.float(), self.centres).argmin(1)  # the sector: the nearest of the unit centres
        images = self.digits[nearest].clone()
        images[z.norm(dim=1) > self.blank_beyond] = 0.0
        return images.unsqueeze(1)


def test_a_constructed_vae_evaluated_end_to_end_gives_the_known_answers(tmp_path):
    data = synthetic_digits(n_train=1000, n_test=1000)
    model = ClusterVAE()
    ev = vaediag.evaluate_model(model, tmp_path / "run", 1, settings=SMALL, data=data, classifier=SquareJudge(),
                                device="cpu", **QUIET)
    row = ev.metrics.loc[1]
    z = sample_prior(SMALL.samples, 2, SMALL.seed)
    blank = np.linalg.norm(z, axis=1) > model.blank_beyond
    assert row[C.PRIOR + C.UNREADABLE_SHARE] == blank.mean() and row[C.PRIOR + C.N_READABLE] == (~blank).sum()
    assert row[C.RECON_ACCURACY] == 1.0
    pc = ev.per_class[ev.per_class[C.SOURCE] == C.SOURCE_MODEL].set_index(C.CLASS)
    np.testing.assert_array_equal(pc[C.CLASS_RECON_RECALL], np.ones(10))
    nearest = np.argmin(cdist(z[~blank], model.centres.numpy()), axis=1)
    np.testing.assert_allclose(pc[C.CLASS_PRIOR_SHARE], np.bincount(nearest, minlength=10) / len(nearest))
    labels = Run(tmp_path / "run").artifacts(1)
    np.testing.assert_array_equal(labels["prior_labels"][~blank], nearest)
    assert (labels["prior_labels"][blank] == -1).all()
    code = labels["prior_code_labels"]
    named = (code >= 0) & ~blank
    assert row[C.PRIOR_OFF_CODES] == (code < 0).mean() < 0.15  # the codes fill the disc: few samples lie off
    # where both judges name a sample they agree, but near the border of two sectors, where the nearest codes mix
    same = code[named] == labels["prior_labels"][named]
    assert row[C.JUDGE_AGREEMENT] == same.mean() > 0.9
    zn = z[named]
    off_border = np.angle(zn[:, 0] + 1j * zn[:, 1]) / (2 * np.pi / 10) - 0.5  # sector borders at whole numbers
    border = np.abs(np.sin((off_border - np.round(off_border)) * 2 * np.pi / 10)) * np.linalg.norm(zn, axis=1)
    assert border[~same].max() < 0.25 and np.median(border[~same]) < np.median(border) / 2  # they hug the borders
    verdict = report.run_verdict(Run(tmp_path / "run"), 1)
    assert verdict.kind not in ("mode-collapse", "unreliable") and verdict.judge_unreadable == ()


def test_a_deterministic_autoencoder_evaluated_with_evaluate_model_is_not_applicable(tmp_path):
    torch.manual_seed(0)
    vaediag.evaluate_model(X.DeterministicAE(), tmp_path / "ae", 1, settings=SMALL, data=synthetic_digits(),
                           classifier=SquareJudge(), device="cpu", **QUIET)
    assert report.run_verdict(Run(tmp_path / "ae"), 1).kind == "not-applicable"


def test_the_cache_key_covers_the_judges_temperature_and_the_unreadable_threshold():
    data, judge = synthetic_digits(), SquareJudge()
    base = Reference(data, judge, torch.device("cpu"), SMALL).fingerprints
    other = Reference(data, judge, torch.device("cpu"), dataclasses.replace(SMALL, unreadable_below=0.6)).fingerprints
    judge.temperature = 1.5  # a calibrated judge keeps its temperature beside its weights
    hotter = Reference(data, judge, torch.device("cpu"), SMALL).fingerprints
    keys = {cache_key(prints, "x") for prints in (base, other, hotter)}
    assert len(keys) == 3 and hotter["classifier"] == base["classifier"]  # same weights, another judge
    assert CACHE_FORMAT == "vaediag-eval-v4"  # earlier entries (one judge, no bucket) are recomputed once
    with pytest.raises(vaediag.VaediagError, match="unreadable_below"):
        dataclasses.replace(SMALL, unreadable_below=1.0).validate()


# ============================================================================================ the classic VAE
@pytest.fixture(scope="module")
def classic_vae_run(tmp_path_factory, mnist_root):
    """pytorch/examples' VAE (784-400-20), its own loop, 3 epochs on 10k digits, evaluate_model after each."""
    from vaediag.datasets.data import MNISTData, load_mnist

    out = tmp_path_factory.mktemp("classic") / "example"
    data = load_mnist(mnist_root, train_size=10000, test_size=2000, seed=0, log=lambda *_: None)
    x = MNISTData.to_float(data.train_images)
    torch.manual_seed(1)
    model = X.PyTorchExampleVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    settings = EvalSettings(samples=5000, grid=10, iwae=0)
    for epoch in (1, 2, 3):
        model.train()
        for batch in x[torch.randperm(len(x))].split(128):
            loss = model.loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        vaediag.evaluate_model(model, out, epoch, settings=settings, train_size=5000,
                               test_size=2000, data_root=mnist_root, device="cpu", **QUIET)
    return Run(out)


def _classic_shares(run: Run) -> pd.DataFrame:
    rows = run.per_class.query("source == 'model' and epoch == 3")
    readable = 1.0 - run.metrics.loc[3, C.PRIOR + C.UNREADABLE_SHARE]
    return pd.DataFrame({"readable": rows[C.CLASS_PRIOR_SHARE].to_numpy(),  # share of the readable samples
                         "all": rows[C.CLASS_PRIOR_SHARE].to_numpy() * readable,  # share of all prior samples
                         "code": rows[C.CLASS_PRIOR_CODE_SHARE].to_numpy()})


@pytest.mark.mnist
def test_the_pytorch_examples_vae_is_not_called_a_mode_collapse(classic_vae_run):
    """No collapse verdict, no supported collapse claim; no digit takes more than 25 % of the prior samples, by
    the image judge (unreadable samples counted in the denominator: they are samples too) or by the code judge."""
    run = classic_vae_run
    verdict = report.run_verdict(run, 3)
    assert verdict.kind != "mode-collapse" and verdict.prior_missing == ()
    shares = _classic_shares(run)
    assert shares["all"].max() <= 0.25 and shares["code"].max() <= 0.25, shares.round(3).to_dict("list")
    claims = parse_claims({"claim": [{"text": "by epoch 3 the model mode-collapsed", "kind": "mode_collapse",
                                      "epoch": 3}]})
    assert check_claims(claims, run).iloc[0].verdict != "supported"


@pytest.mark.mnist
@pytest.mark.xfail(strict=True, reason="not reached: of the prior samples the image judge can read, it names 28.6 % "
                   "'2' at epoch 3 (of all prior samples 17 %; the code judge 20 %); issue 17's 25 % bar read on the "
                   "readable samples is not met")
def test_the_pytorch_examples_vae_no_digit_over_25_percent_of_the_readable_samples(classic_vae_run):
    shares = _classic_shares(classic_vae_run)
    assert shares["readable"].max() <= 0.25, shares.round(3).to_dict("list")


def test_a_report_quotes_the_unreadable_share_and_both_judges(tmp_path):
    run = Run(make_fake_run(tmp_path / "run", epochs=(5, 30), write_artifacts=False))
    q2 = " ".join(s.plain() for s in report.build_content(run).sections["q2"])
    assert "cannot read (top class probability below 0.5) is 2.0 %" in q2 and "(real test digits: 0.3 %)" in q2
    assert "Trust the image judge for what the samples look like" in q2 and "agree on 90.0 %" in q2
    table = pd.DataFrame(report.build_content(run).run.per_class)
    assert {C.CLASS_PRIOR_CODE_SHARE, C.CLASS_RECON_RECALL, C.CLASS_JUDGE_AGREEMENT} <= set(table.columns)


def test_the_settings_default_threshold_is_the_metrics_one():
    """EvalSettings keeps a literal (the CLI imports it without numpy); it must equal the metrics' default."""
    from vaediag.datasets import classifier

    assert EvalSettings().unreadable_below == UNREADABLE_BELOW == classifier.UNREADABLE_BELOW
    for dataset in classifier.CLASSIFIER_FILES:  # the threshold each shipped judge was measured at
        assert classifier.read_info(dataset=dataset)["unreadable"]["threshold"] == UNREADABLE_BELOW
