"""The claim kinds a claims file may use, the thresholds it may change, and how each kind is decided: one
:class:`~vaediag.judgement.rules.Rule` per kind (the README's claims table and the report's rules section print
them). Parsing and checking claims is :mod:`vaediag.claims`; this module holds the decisions' constants so that
the report can print them without importing the claims package."""

from __future__ import annotations

import math

from vaediag.judgement.formats import percent
from vaediag.judgement.rules import (COLLAPSE_ENTROPY, FRECHET_CHANGE_REL, IMBALANCE_FACTOR, INSIDE_MIN, MISSING_SHARE,
                                     SILHOUETTE_LEVELS, TOP_PAIRS, Rule)
from vaediag.stats import BOOTSTRAP_RESAMPLES

SLOPE_MIN_EPOCHS = 3  # a slope with an interval needs at least this many epochs (n - 2 degrees of freedom)

# ============================================================================================ kinds
OVERLAP, SEPARATED, MIXED_PAIR = "overlap", "separated", "mixed_pair"
MISSING, RARE, OVERREPRESENTED = "missing", "rare", "overrepresented"
MODE_COLLAPSE, QUALITY, DIVERSITY = "mode_collapse", "quality", "diversity"
OVERFITTING, BOTTLENECK, METRIC = "overfitting", "bottleneck", "metric"
KINDS = {  # kind -> short description (what the claim says)
    OVERLAP: "the given digits' latent clusters overlap at an epoch",
    SEPARATED: "the given digits form separate, compact latent clusters at an epoch",
    MIXED_PAIR: "a digit pair is mixed up in latent space (confused by the kNN classifier) at an epoch",
    MISSING: "the given digits are missing among generated digits (prior samples, linear or quantile grid)",
    RARE: "the given digits are rare among generated digits (drawn far less often than in the data)",
    OVERREPRESENTED: "the given digits are over-represented among generated digits",
    MODE_COLLAPSE: "the model mode-collapsed at an epoch (optionally: these digits are missing)",
    QUALITY: "the quality of generated digits improves / worsens between two epochs",
    DIVERSITY: "the diversity of generated digits improves / worsens between two epochs",
    OVERFITTING: "the model overfits after an epoch (the test loss rises)",
    BOTTLENECK: "the latent dimension is the bottleneck (a larger z does better; needs a sweep over latent_dim)",
    METRIC: "a metric compared with a value at an epoch (or epochs): column, operator, value",
}

# ============================================================================================ settings
# Thresholds a claims file may override in [settings] (name -> default, lowest allowed, highest allowed).
OVERLAP_SILHOUETTE = SILHOUETTE_LEVELS[1][0]  # 0.25: below = "strongly overlapping clusters" (the report's words)
SEPARATED_SILHOUETTE = SILHOUETTE_LEVELS[0][0]  # 0.5: at or above = "clearly separated clusters"
MIXED_PAIR_RATE = 0.05  # a pair whose kNN confusion rate lies wholly above this is "mixed"
SETTINGS: dict[str, tuple[float, float, float]] = {
    "overlap_silhouette": (OVERLAP_SILHOUETTE, -1.0, 1.0),
    "separated_silhouette": (SEPARATED_SILHOUETTE, -1.0, 1.0),
    "mixed_pair_rate": (MIXED_PAIR_RATE, 0.0, 1.0),
    "missing_share": (MISSING_SHARE, 0.0, 1.0),
    "imbalance_factor": (IMBALANCE_FACTOR, 1.0, math.inf),
    "quality_tolerance": (FRECHET_CHANGE_REL, 0.0, math.inf),
}
SETTING_DOCS = {
    "overlap_silhouette": "overlap: each digit's mean silhouette lies wholly below this",
    "separated_silhouette": "separated: each digit's mean silhouette lies wholly above this",
    "mixed_pair_rate": "mixed_pair: the pair's kNN confusion rate lies wholly above this",
    "missing_share": "missing: the digit's share of generated digits lies wholly below this",
    "imbalance_factor": "rare / overrepresented: the share lies wholly below data share / factor, or above "
                        "factor × data share",
    "quality_tolerance": "quality within one run: relative change of the Fréchet distance that counts",
}


def default_settings() -> dict[str, float]:
    return {name: default for name, (default, _, _) in SETTINGS.items()}


THREE_WAY = ("supported when the 95 % CI lies wholly on the claimed side of the threshold, refuted when wholly on "
             "the other side, inconclusive when it straddles it (vaediag.stats.decide)")


def claim_rules(settings: dict | None = None) -> list[Rule]:
    """One rule per claim kind (topic "Claim: <kind>"), with the thresholds in force (default: the defaults a
    claims file's [settings] may override), plus the shared rules."""
    s = {**default_settings(), **(settings or {})}
    return [
        Rule("Claims: verdicts", f"every claim gets supported / refuted / inconclusive: {THREE_WAY}. Within one "
                                 f"run the intervals are sampling intervals (Wilson for shares, bootstrap with "
                                 f"{BOOTSTRAP_RESAMPLES} resamples for silhouettes and entropy); on a sweep a claim "
                                 f"is checked per configuration over its seeds (Student-t intervals; paired for "
                                 f"changes; for differences between configurations paired by seed when both ran "
                                 f"the same seeds, else Welch). A claim about several "
                                 f"digits or epochs is supported when every part is, refuted when one part is."),
        Rule("Claims: settings", "thresholds a claims file may change in [settings]: " + "; ".join(
            f"{k} = {v:g} ({SETTING_DOCS[k]})" for k, v in s.items())),
        Rule(f"Claim: {OVERLAP}", f"each digit's mean silhouette (per_class.csv) lies wholly below "
                                  f"{s['overlap_silhouette']:g} (the report's “strongly overlapping”); within a run "
                                  f"the interval is a bootstrap of the mean over the digit's test codes; the pairs' "
                                  f"confusion rates are quoted."),
        Rule(f"Claim: {SEPARATED}", f"each digit's mean silhouette lies wholly above {s['separated_silhouette']:g} "
                                    f"(“clearly separated”), same intervals."),
        Rule(f"Claim: {MIXED_PAIR}", f"the pair's kNN confusion rate (pairs.csv) lies wholly above "
                                     f"{percent(s['mixed_pair_rate'])}; Wilson interval with counts rate × (n_a + "
                                     f"n_b); its rank among the 45 pairs is quoted (the report lists the top "
                                     f"{TOP_PAIRS})."),
        Rule(f"Claim: {MISSING}", f"each digit's share of generated digits lies wholly below "
                                  f"{percent(s['missing_share'])} (the report's missing digit: "
                                  f"{percent(MISSING_SHARE)}). source = prior: Wilson interval over the prior "
                                  f"samples (over seeds: the t-interval of the mean share, widened to the mean of the "
                                  f"seeds' Wilson bounds, so seeds that agree keep their sampling noise), for both "
                                  f"judges (the classifier's share of the readable samples and the code judge's): "
                                  f"supported or refuted only when both agree and the classifier can read the digit "
                                  f"in the model's reconstructions, else inconclusive with both numbers; a "
                                  f"deterministic encoder: inconclusive (not applicable). source = grid / qgrid: the grid's share is exact for the grid shown "
                                  f"(fixed points), and since the claim is about the model it holds only when the "
                                  f"prior samples agree; a grid claim that fails is explained with the digit's prior "
                                  f"share and the share of its own test codes inside the grid window (below "
                                  f"{percent(INSIDE_MIN)}: the window misses it)."),
        Rule(f"Claim: {RARE}", f"as missing, against the digit's test-set share / {s['imbalance_factor']:g}."),
        Rule(f"Claim: {OVERREPRESENTED}", f"as missing, but the share lies wholly above {s['imbalance_factor']:g} × "
                                          f"the digit's test-set share."),
        Rule(f"Claim: {MODE_COLLAPSE}", f"the run report's collapse verdict at the epoch: supported for "
                                        f"mode-collapse (a digit's prior-share CI wholly below "
                                        f"{percent(MISSING_SHARE)} for both judges) or posterior collapse with missing digits; "
                                        f"refuted for healthy, imbalance (both judges' entropy CIs wholly below "
                                        f"{COLLAPSE_ENTROPY:g} with every digit drawn), window and resolution (the "
                                        f"grid, not the model, misses digits); inconclusive otherwise; digits named "
                                        f"must all be missing. Over seeds: supported when every seed's verdict "
                                        f"supports it, refuted when none does."),
        Rule(f"Claim: {QUALITY}", f"the Fréchet distance falls (improves) / rises (worsens) between the two epochs. "
                                  f"Within one run it has no sampling interval: the relative change must exceed "
                                  f"±{percent(s['quality_tolerance'])} (else inconclusive). Over seeds: the paired "
                                  f"t-interval of the per-seed change. Classifier confidence is quoted."),
        Rule(f"Claim: {DIVERSITY}", "the normalised class entropy of prior samples rises (improves) / falls "
                                    "(worsens): within one run the change with the two bootstrap intervals' "
                                    "half-widths combined in quadrature; over seeds the paired t-interval. PRDC "
                                    "coverage is quoted."),
        Rule(f"Claim: {OVERFITTING}", f"least-squares slope of history.csv test_loss from the epoch to the last "
                                      f"(at least {SLOPE_MIN_EPOCHS} epochs) with its t interval: wholly above 0 = "
                                      f"supported, wholly below 0 = refuted; the slope of the gap test_loss − "
                                      f"train_eval_loss is quoted. Over seeds: t-interval of the per-seed slopes."),
        Rule(f"Claim: {BOTTLENECK}", "a sweep over latent_dim: intervals of the differences (paired by seed when "
                                     "both configurations ran the same seeds, else Welch; largest z − "
                                     "smallest z, other settings equal) of test_loss (must be below 0) and "
                                     "knn_accuracy (above 0) over seeds: supported when one is and neither is on "
                                     "the wrong side, refuted when one is on the wrong side and neither supports; "
                                     "a single run or a sweep with one latent_dim: inconclusive, saying why."),
        Rule(f"Claim: {METRIC}", "column, operator (<, <=, >, >=), value at each epoch named: the cell's 95 % CI "
                                 "(<column>_ci_low/_ci_high; over seeds the t-interval) decides; a column without "
                                 "an interval is compared by its value (“no interval” in the rule)."),
    ]
