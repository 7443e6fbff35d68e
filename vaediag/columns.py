"""Column names of every vaediag table, defined once, and what each means (``COLUMN_DOCS``, which the report
shows on hover and the documentation's column reference is generated from).

- ``metrics.csv``: one row per evaluated checkpoint epoch (``source == "model"``), plus the reference row computed
  on real test digits (``source == "data"``, ``epoch == 0``: no training epoch belongs to it).
- ``per_class.csv``: one row per (epoch, class): the label 0-9 and the class's name (:mod:`vaediag.datasets.classes`).
- ``pairs.csv``: one row per (epoch, class_a < class_b), with both classes' names.
- ``history.csv``: one row per training epoch (written by training).

All losses are *per sample, in nats*.
"""

import math

# --- keys shared by all tables -------------------------------------------------------------
EPOCH = "epoch"  # always an int: the training epoch of a checkpoint (0 on the real-data reference rows)
SOURCE = "source"  # what a row describes: SOURCE_MODEL (a checkpoint) or SOURCE_DATA (real test digits)
SOURCE_MODEL = "model"
SOURCE_DATA = "data"
DATA_EPOCH = 0  # EPOCH of the reference rows: real digits belong to no training epoch
N_CLASSES = 10  # classes 0-9 (MNIST: the digits; Fashion-MNIST: T-shirt/top ... Ankle boot)

CLASS = "class"  # the label 0-9 (older tables wrote "digit": renamed when read, see vaediag.store.evaluation)
CLASS_NAME = "class_name"  # its name in the run's dataset: "3" (MNIST), "Shirt" (Fashion-MNIST)
CLASS_A = "class_a"  # pairs.csv: the smaller label of the pair (0.3: "digit_a")
CLASS_B = "class_b"  # the larger label (0.3: "digit_b")
CLASS_A_NAME = "class_a_name"
CLASS_B_NAME = "class_b_name"
CLASS_COLUMNS_0_3 = {"digit": CLASS, "digit_a": CLASS_A, "digit_b": CLASS_B}  # old name -> new name
RUN = "run"

# --- history.csv (training) ------------------------------------------------------------------
TRAIN_LOSS = "train_loss"  # negative ELBO, nats/sample (beta-weighted KL)
TRAIN_RECON = "train_recon"  # Bernoulli reconstruction NLL, nats/sample
TRAIN_KL = "train_kl"  # KL(q(z|x) || N(0, I)), nats/sample
TEST_LOSS = "test_loss"
TEST_RECON = "test_recon"
TEST_KL = "test_kl"
EPOCH_SECONDS = "epoch_seconds"
# TRAIN_EVAL_LOSS / _RECON / _KL (below) sit after the running train columns

# --- metrics.csv: latent separation (posterior means of the test set) ------------------------
SILHOUETTE = "silhouette"  # [-1, 1], higher = better separated
KNN_ACCURACY = "knn_accuracy"  # [0, 1], higher = digits separable by neighbours
DAVIES_BOULDIN = "davies_bouldin"  # >= 0, lower = better separated
CALINSKI_HARABASZ = "calinski_harabasz"  # >= 0, higher = better separated
MOST_MIXED_PAIR = "most_mixed_pair"  # ClassNames.pair: "4-9" (MNIST), "T-shirt/top & Shirt" (Fashion-MNIST)
MOST_MIXED_PAIR_RATE = "most_mixed_pair_rate"  # symmetric kNN confusion rate of that pair, [0, 1]

# --- metrics.csv: latent usage ----------------------------------------------------------------
ACTIVE_UNITS = "active_units"  # count of dims with Var_x E[z|x] > 0.01
TOTAL_CORRELATION = "total_correlation_nats"  # Gaussian TC of mu, >= 0, 0 = independent dims
KL_PER_DIM_PREFIX = "kl_dim_"  # kl_dim_0, kl_dim_1, ... nats/sample per latent dimension
AGGPOST_MEAN_NORM = "aggpost_mean_norm"  # ||E[mu]||, prior: 0
AGGPOST_VAR_MEAN = "aggpost_var_mean"  # mean diagonal variance of the aggregate posterior, prior: 1
AGGPOST_KL_PRIOR = "aggpost_kl_prior_nats"  # KL(N(m, S) || N(0, I)) of the moment-matched aggregate posterior

# --- metrics.csv: generation histogram metrics; prefix "prior_", "grid_" (linear), "qgrid_" (quantile)
PRIOR = "prior_"
GRID = "grid_"
QGRID = "qgrid_"
ENTROPY = "entropy_nats"  # class-histogram entropy, [0, ln 10]
ENTROPY_NORM = "entropy_norm"  # entropy / ln 10, [0, 1]; 1 = all digits equally often
MODES_COVERED = "modes_covered"  # classes with >= 1 % of the samples, 0..10
KL_FROM_DATA = "kl_from_data_nats"  # KL(sample histogram || test label distribution), >= 0, lower = better
CONFIDENCE = "confidence"  # mean max class probability, [0.1, 1], higher = crisper digits
CLASSIFIER_SCORE = "classifier_score"  # exp(E KL(p(y|x) || p(y))), [1, 10], higher = diverse and crisp
# (no chi-square p-value: with 10k samples it is 0 for every model; an old prior_chi2_pvalue column still reads)
HISTOGRAM_METRICS = [ENTROPY, ENTROPY_NORM, MODES_COVERED, KL_FROM_DATA, CONFIDENCE, CLASSIFIER_SCORE]
# the image judge's unreadable bucket, per prefix: entropy, modes, KL and the class shares count readable samples only
UNREADABLE_SHARE = "unreadable_share"  # share of samples whose top class probability is below the threshold, [0, 1]
N_READABLE = "n_readable"  # how many samples the judge could read (the class shares' denominator)
READABILITY_METRICS = [UNREADABLE_SHARE, UNREADABLE_SHARE + "_ci_low", UNREADABLE_SHARE + "_ci_high", N_READABLE]

GRID_SPAN = "grid_span"  # s: the linear grid covers [-s, s] on both axes
GRID_INSIDE = "grid_inside_fraction"  # fraction of test mu inside the linear grid window, [0, 1]
QGRID_SPAN = "qgrid_span"  # the quantile grid covers [-q, q], q = Phi^-1(0.95) = 1.645 (Kingma & Welling)
QGRID_INSIDE = "qgrid_inside_fraction"

# --- metrics.csv: sample quality in classifier-feature space ----------------------------------
FRECHET = "frechet_distance"  # >= 0, lower = generated features closer to real
PRECISION = "prdc_precision"  # [0, 1] fraction of generated samples inside the real manifold
RECALL = "prdc_recall"  # [0, 1] fraction of real samples inside the generated manifold
DENSITY = "prdc_density"  # >= 0, ~1 when generated matches real
COVERAGE = "prdc_coverage"  # [0, 1] fraction of real neighbourhoods that contain a generated sample

# --- metrics.csv: reconstruction / likelihood ------------------------------------------------
EVAL_LOSS = "eval_test_loss"  # negative ELBO on the evaluated test set, nats/sample
EVAL_RECON = "eval_test_recon"
EVAL_KL = "eval_test_kl"
RECON_ACCURACY = "recon_accuracy"  # classifier accuracy on reconstructions of test digits, [0, 1]
IWAE_NLL = "iwae_nll_nats"  # importance-weighted NLL bound (optional, --iwae K), lower = better

# --- metrics.csv: the second judge (prior samples labelled by their nearest test codes) ----------
PRIOR_OFF_CODES = "prior_off_codes_share"  # prior samples farther from the test codes than real codes are, [0, 1]
PRIOR_CODE_ENTROPY_NORM = "prior_code_entropy_norm"  # the code judge's normalised class entropy, [0, 1]
JUDGE_AGREEMENT = "judge_agreement"  # share of prior samples both judges name on which they agree, [0, 1]

# --- per_class.csv ----------------------------------------------------------------------------
CLASS_SILHOUETTE = "silhouette"
CLASS_KNN_RECALL = "knn_recall"
CLASS_PRIOR_SHARE = "prior_share"
CLASS_GRID_SHARE = "grid_share"
CLASS_QGRID_SHARE = "qgrid_share"
CLASS_DATA_SHARE = "data_share"  # share of the digit in the test labels
CLASS_PRIOR_CODE_SHARE = "prior_code_share"  # the code judge's share of the class among prior samples
CLASS_JUDGE_AGREEMENT = JUDGE_AGREEMENT  # per class: of the samples either judge puts in the class, both do
CLASS_RECON_RECALL = "recon_recall"  # the image judge reads the class's reconstructions decode(mu(x)) as the class

# --- pairs.csv --------------------------------------------------------------------------------
CONFUSION_RATE = "confusion_rate"  # (C[a,b] + C[b,a]) / (n_a + n_b) of the test-set kNN classifier

# --- intervals and the measurements the noise-aware findings need -----------------------------------------
CI_LOW, CI_HIGH = "_ci_low", "_ci_high"  # suffixes: <column>_ci_low / <column>_ci_high = its 95 % interval
# history.csv: the ELBO of a fixed training subset (as many digits as the test set), measured after each epoch
# in eval mode exactly like the test ELBO; train_loss stays the running mean over the epoch's batches.
TRAIN_EVAL_LOSS = "train_eval_loss"
TRAIN_EVAL_RECON = "train_eval_recon"
TRAIN_EVAL_KL = "train_eval_kl"
HISTORY_COLUMNS_0_2 = [EPOCH, TRAIN_LOSS, TRAIN_RECON, TRAIN_KL, TEST_LOSS, TEST_RECON, TEST_KL, EPOCH_SECONDS]
HISTORY_COLUMNS = [EPOCH, TRAIN_LOSS, TRAIN_RECON, TRAIN_KL, TRAIN_EVAL_LOSS, TRAIN_EVAL_RECON, TRAIN_EVAL_KL,
                   TEST_LOSS, TEST_RECON, TEST_KL, EPOCH_SECONDS]  # a 0.2 history.csv lacks TRAIN_EVAL_* (read as NaN)
# metrics.csv: IWAE bound on the same-size training subset (IWAE_NLL is the test digits')
IWAE_TRAIN_NLL = "iwae_train_nll_nats"
# intervals: bootstrap (entropy, kNN accuracy) in metrics.csv, Wilson (shares) in per_class.csv; and the share of the
# digit's own test codes inside each grid window:
CLASS_GRID_INSIDE = "grid_inside_share"
CLASS_QGRID_INSIDE = "qgrid_inside_share"


def ci_columns(column: str) -> tuple[str, str]:
    """(``<column>_ci_low``, ``<column>_ci_high``): the names of ``column``'s 95 % interval bounds."""
    return column + CI_LOW, column + CI_HIGH


PRIOR_ENTROPY_NORM_CI_LOW, PRIOR_ENTROPY_NORM_CI_HIGH = ci_columns(PRIOR + ENTROPY_NORM)
KNN_ACCURACY_CI_LOW, KNN_ACCURACY_CI_HIGH = ci_columns(KNN_ACCURACY)
CLASS_PRIOR_SHARE_CI_LOW, CLASS_PRIOR_SHARE_CI_HIGH = ci_columns(CLASS_PRIOR_SHARE)
CLASS_GRID_SHARE_CI_LOW, CLASS_GRID_SHARE_CI_HIGH = ci_columns(CLASS_GRID_SHARE)
CLASS_QGRID_SHARE_CI_LOW, CLASS_QGRID_SHARE_CI_HIGH = ci_columns(CLASS_QGRID_SHARE)
PRIOR_OFF_CODES_CI_LOW, PRIOR_OFF_CODES_CI_HIGH = ci_columns(PRIOR_OFF_CODES)
PRIOR_CODE_ENTROPY_NORM_CI_LOW, PRIOR_CODE_ENTROPY_NORM_CI_HIGH = ci_columns(PRIOR_CODE_ENTROPY_NORM)
JUDGE_AGREEMENT_CI_LOW, JUDGE_AGREEMENT_CI_HIGH = ci_columns(JUDGE_AGREEMENT)
CLASS_PRIOR_CODE_SHARE_CI_LOW, CLASS_PRIOR_CODE_SHARE_CI_HIGH = ci_columns(CLASS_PRIOR_CODE_SHARE)
CLASS_RECON_RECALL_CI_LOW, CLASS_RECON_RECALL_CI_HIGH = ci_columns(CLASS_RECON_RECALL)
JUDGE_COLUMNS = [JUDGE_AGREEMENT, JUDGE_AGREEMENT_CI_LOW, JUDGE_AGREEMENT_CI_HIGH, PRIOR_OFF_CODES,
                 PRIOR_OFF_CODES_CI_LOW, PRIOR_OFF_CODES_CI_HIGH, PRIOR_CODE_ENTROPY_NORM,
                 PRIOR_CODE_ENTROPY_NORM_CI_LOW, PRIOR_CODE_ENTROPY_NORM_CI_HIGH]  # metrics.csv, in table order


# --- what each column means: range, direction, how to read it -----------------------------------------
# The report shows these on hover over a table header; the README's column tables are generated from them
# (``vaediag.report.render.columns_markdown``; tests/test_columns.py checks the README's copy).
# ↑ = higher is better, ↓ = lower is better.
_HISTOGRAM_DOCS = {  # {what}: the samples the classifier's digit histogram is made of
    ENTROPY: "[0, ln 10 = 2.303] nats, ↑: entropy of the image judge's digit histogram of {what} (readable "
             "ones only); 0 = one digit only, ln 10 = all digits equally often",
    ENTROPY_NORM: "[0, 1], ↑: the same entropy / ln 10; 1 = all digits equally often, below 0.9 = some digits "
                  "rare or missing",
    MODES_COVERED: "0…10, ↑: digits that make up at least 1 % of the readable ones of {what}; fewer than 10 = "
                   "digits missing",
    KL_FROM_DATA: "≥ 0 nats, ↓: KL(digit histogram of {what} ‖ test label distribution); 0 = the test set's "
                  "digit proportions",
    CONFIDENCE: "[0.1, 1], ↑: mean largest class probability over {what} (readable or not); crisp, recognisable "
                "digits score high, near 0.1 = the classifier cannot tell what was drawn",
    CLASSIFIER_SCORE: "[1, 10], ↑: exp(E KL(p(y|x) ‖ p(y))) over {what}, the Inception-score analogue; 10 = "
                      "every digit, each drawn crisply; 1 = all look alike or all are ambiguous",
}
_READABILITY_DOCS = {  # {what}: as above
    UNREADABLE_SHARE: "[0, 1], ↓: share of {what} the image judge cannot read (its top class probability is below "
                      "the evaluation's unreadable_below): counted in no class; more = blurrier or stranger images, "
                      "a quality finding, never more of one digit",
    UNREADABLE_SHARE + "_ci_low": "[0, 1]: lower end of the 95 % Wilson interval of that unreadable share",
    UNREADABLE_SHARE + "_ci_high": "[0, 1]: upper end of the Wilson interval of that unreadable share",
    N_READABLE: "≥ 0: how many of {what} the judge could read; the class shares, entropy, modes and KL count "
                "these only",
}
_SAMPLES = {PRIOR: "the decoded prior samples z ~ N(0, I)", GRID: "the decoded linear N×N grid",
            QGRID: "the decoded Gaussian-quantile N×N grid"}

COLUMN_DOCS: dict[str, str] = {
    EPOCH: "integer: the training epoch of the row (a checkpoint's epoch in the result tables); 0 on the "
           "real-data reference rows",
    SOURCE: "'model' or 'data': a checkpoint's row, or the reference row computed on real test digits (the "
            "ceiling to read the model's numbers against)",
    CLASS: "0…9: the label (true class) the row describes (a digit in MNIST; older tables call the column 'digit')",
    CLASS_NAME: "text: the class's name in the run's dataset: '3' (MNIST), 'Shirt' (Fashion-MNIST)",
    CLASS_A: "0…8: the smaller label of the pair (older tables: 'digit_a')",
    CLASS_B: "1…9: the larger label of the pair (older tables: 'digit_b')",
    CLASS_A_NAME: "text: the name of class_a in the run's dataset",
    CLASS_B_NAME: "text: the name of class_b in the run's dataset",
    RUN: "text: the run directory's name (vaediag compare)",
    # history.csv
    TRAIN_LOSS: "nats/sample, ↓: negative ELBO on the training digits (reconstruction + β·KL), running mean "
                "over the epoch's batches in train mode while the weights change; it lags the end-of-epoch model, "
                "so compare train_eval_loss, not this, with test_loss",
    TRAIN_RECON: "nats/sample, ↓: Bernoulli reconstruction negative log-likelihood on the training digits",
    TRAIN_KL: "≥ 0 nats/sample: KL(q(z|x) ‖ N(0, I)) on the training digits; ≈ 0 = the code carries no "
              "information (posterior collapse)",
    TEST_LOSS: "nats/sample, ↓: negative ELBO on the test digits after the epoch (eval mode, seeded noise); "
               "test_loss − train_eval_loss is the generalisation gap; a gap that keeps growing = overfitting",
    TRAIN_EVAL_LOSS: "nats/sample, ↓: negative ELBO of a fixed training subset (seeded, as many digits as the "
                     "test set) measured after the epoch exactly like test_loss (eval mode, the same seeded "
                     "noise); unlike the running train_loss it describes the end-of-epoch model, so "
                     "test_loss − train_eval_loss is the gap (empty in a history written without it)",
    TRAIN_EVAL_RECON: "nats/sample, ↓: reconstruction part of train_eval_loss (the fixed training subset, eval "
                      "mode)",
    TRAIN_EVAL_KL: "≥ 0 nats/sample: KL part of train_eval_loss (the fixed training subset, eval mode)",
    TEST_RECON: "nats/sample, ↓: reconstruction negative log-likelihood on the test digits",
    TEST_KL: "≥ 0 nats/sample: KL(q(z|x) ‖ N(0, I)) on the test digits",
    EPOCH_SECONDS: "seconds: wall time of the training epoch",
    # metrics.csv: latent separation
    SILHOUETTE: "[-1, 1], ↑: how well the test codes μ(x) cluster by digit; 1 = separated clusters, 0 = "
                "overlapping, < 0 = mixed (per_class.csv: the mean over one digit's codes)",
    KNN_ACCURACY: "[0, 1], ↑: a 5-nearest-neighbour classifier fit on the training codes, scored on the test "
                  "codes: can the digits be told apart in latent space?",
    DAVIES_BOULDIN: "≥ 0, ↓: spread within each digit's cluster relative to the distance between clusters",
    CALINSKI_HARABASZ: "≥ 0, ↑: between-digit vs within-digit variance of the codes",
    MOST_MIXED_PAIR: "e.g. '4-9' (MNIST), 'T-shirt/top & Shirt' (Fashion-MNIST): the pair of classes the "
                     "latent kNN classifier confuses most",
    MOST_MIXED_PAIR_RATE: "[0, 1], ↓: that pair's confusion rate (C[a,b] + C[b,a]) / (n_a + n_b)",
    # metrics.csv: latent usage
    ACTIVE_UNITS: "0…d, ↑: latent dimensions in use, Var_x E[z|x] > 0.01 (Burda et al.); 0 = posterior "
                  "collapse",
    TOTAL_CORRELATION: "≥ 0 nats: Gaussian total correlation of the codes μ; 0 = independent latent dimensions",
    KL_PER_DIM_PREFIX: "≥ 0 nats/sample: KL of one latent dimension (kl_dim_0, kl_dim_1, …); below 0.01 = a "
                       "dimension the model ignores",
    AGGPOST_MEAN_NORM: "≥ 0, prior: 0: norm of the mean code ‖E[μ]‖; large = the codes sit away from the prior's "
                       "centre",
    AGGPOST_VAR_MEAN: "> 0, prior: 1: mean variance of the aggregate posterior per dimension; far from 1 = prior "
                      "samples land where no digit is encoded",
    AGGPOST_KL_PRIOR: "≥ 0 nats, ↓, prior: 0: KL(N(m, S) ‖ N(0, I)) of the moment-matched aggregate posterior",
    # metrics.csv: the grid windows
    GRID_SPAN: "> 0: half-width s of the linear grid; it covers [-s, s]² of latent dims 0, 1",
    GRID_INSIDE: "[0, 1], ↑: fraction of the test codes inside the linear grid's window; low = the grid misses "
                 "much of the latent space, so a digit missing from it need not be a mode collapse",
    QGRID_SPAN: "1.645: half-width of the Gaussian-quantile grid, Φ⁻¹(0.95) (Kingma & Welling)",
    QGRID_INSIDE: "[0, 1], ↑: fraction of the test codes inside the quantile grid's window",
    # metrics.csv: sample quality
    FRECHET: "≥ 0, ↓: Fréchet distance between classifier features of prior samples and real test digits; "
             "the data row: two halves of the test set (the floor)",
    PRECISION: "[0, 1], ↑: fidelity: share of prior samples inside the real digits' feature manifold (Naeem "
               "et al. 2020, k = 5)",
    RECALL: "[0, 1], ↑: diversity: share of real digits inside the prior samples' feature manifold",
    DENSITY: "≥ 0, ≈ 1: fidelity: how many real neighbourhoods each prior sample falls in, relative to real "
             "digits",
    COVERAGE: "[0, 1], ↑: diversity: share of real neighbourhoods that hold at least one prior sample",
    # metrics.csv: reconstruction / likelihood
    EVAL_LOSS: "nats/sample, ↓: negative ELBO on the evaluated test digits (seeded noise)",
    EVAL_RECON: "nats/sample, ↓: its reconstruction part",
    EVAL_KL: "≥ 0 nats/sample: its KL part",
    RECON_ACCURACY: "[0, 1], ↑: the classifier's accuracy on decode(μ(x)) of the test digits (unreadable: wrong): "
                    "does the round trip keep each digit's identity, and can the judge read it? (data row: the real "
                    "digits)",
    IWAE_NLL: "nats/sample, ↓: importance-weighted upper bound on −log p(x) (Burda et al.), first 1000 test "
              "digits, K = --iwae importance samples (default 5: keeps a conv checkpoint's evaluation near 15 s "
              "on a 2-core CPU; empty with --iwae 0); tighter than the ELBO as K grows: eval_test_loss − this "
              "≈ what the ELBO loses to an imperfect encoder",
    IWAE_TRAIN_NLL: "nats/sample, ↓: the same IWAE bound on 1000 digits of the fixed training subset (the one "
                    "train_eval_loss uses); iwae_nll_nats − this = the likelihood gap between unseen and seen "
                    "digits, large = overfitting",
    PRIOR_ENTROPY_NORM_CI_LOW: "[0, 1]: lower end of the 95 % bootstrap interval of prior_entropy_norm (the "
                               "prior samples' predicted digits resampled with replacement, 200 times, seeded); "
                               "the sampling noise of 10k samples only, not seed-to-seed spread",
    PRIOR_ENTROPY_NORM_CI_HIGH: "[0, 1]: upper end of that bootstrap interval; a threshold between the two ends "
                                "cannot be decided from this run",
    KNN_ACCURACY_CI_LOW: "[0, 1]: lower end of the 95 % bootstrap interval of knn_accuracy (the test codes' "
                         "correct / wrong indicators resampled, 200 times, seeded; the kNN fit is not redone)",
    KNN_ACCURACY_CI_HIGH: "[0, 1]: upper end of that bootstrap interval of knn_accuracy",
    # metrics.csv: the second judge
    PRIOR_OFF_CODES: "[0, 1], ↓: share of prior samples that lie off the test codes (their k-th nearest test code "
                     "is farther than for 99 % of the training codes): the code judge names no class for them; "
                     "high in many latent dimensions, where prior samples fall between the codes",
    PRIOR_OFF_CODES_CI_LOW: "[0, 1]: lower end of the 95 % Wilson interval of prior_off_codes_share",
    PRIOR_OFF_CODES_CI_HIGH: "[0, 1]: upper end of the Wilson interval of prior_off_codes_share",
    PRIOR_CODE_ENTROPY_NORM: "[0, 1], ↑: the code judge's normalised class entropy of the prior samples it names "
                             "(the classes of each sample's k nearest test codes); read beside prior_entropy_norm",
    PRIOR_CODE_ENTROPY_NORM_CI_LOW: "[0, 1]: lower end of the 95 % bootstrap interval of prior_code_entropy_norm",
    PRIOR_CODE_ENTROPY_NORM_CI_HIGH: "[0, 1]: upper end of that bootstrap interval",
    JUDGE_AGREEMENT: "[0, 1], ↑: of the prior samples both judges name (readable image, on the codes), the share "
                     "the image judge and the code judge put in the same class (per_class.csv: of the samples "
                     "either judge puts in this class, the share both do); low = at least one judge is wrong, "
                     "and a class-share finding needs both",
    JUDGE_AGREEMENT_CI_LOW: "[0, 1]: lower end of the 95 % Wilson interval of judge_agreement",
    JUDGE_AGREEMENT_CI_HIGH: "[0, 1]: upper end of the Wilson interval of judge_agreement",
    # per_class.csv (its silhouette: see above)
    CLASS_KNN_RECALL: "[0, 1], ↑: share of the digit's test codes the latent kNN classifier labels correctly",
    CLASS_PRIOR_SHARE: "[0, 1]: share of the readable prior samples the image judge reads as this digit "
                       "(prior_n_readable of them); near 0 = the model may not generate it (ask the code judge)",
    CLASS_GRID_SHARE: "[0, 1]: share of the linear grid's readable images read as this digit",
    CLASS_QGRID_SHARE: "[0, 1]: share of the quantile grid's readable images read as this digit",
    CLASS_DATA_SHARE: "[0, 1]: share of the digit among the test labels (what the shares above compare with)",
    CLASS_PRIOR_CODE_SHARE: "[0, 1]: the code judge's share of this digit among the prior samples it names (each "
                            "sample gets the majority class of its k nearest test codes); read beside prior_share",
    CLASS_PRIOR_CODE_SHARE_CI_LOW: "[0, 1]: lower end of the 95 % Wilson interval of prior_code_share",
    CLASS_PRIOR_CODE_SHARE_CI_HIGH: "[0, 1]: upper end of the Wilson interval of prior_code_share",
    CLASS_RECON_RECALL: "[0, 1], ↑: share of the digit's test images whose reconstruction decode(μ(x)) the image "
                        "judge reads as the digit (unreadable counts as missed): can the judge read this model's "
                        "drawings of it? Compare with knn_recall (data rows: the judge on the real images)",
    CLASS_RECON_RECALL_CI_LOW: "[0, 1]: lower end of the 95 % Wilson interval of recon_recall",
    CLASS_RECON_RECALL_CI_HIGH: "[0, 1]: upper end of the Wilson interval of recon_recall",
    CLASS_PRIOR_SHARE_CI_LOW: "[0, 1]: lower end of the 95 % Wilson interval of prior_share (argmax count over "
                              "the number of prior samples); a digit whose upper end is below a threshold is "
                              "missing beyond sampling noise",
    CLASS_PRIOR_SHARE_CI_HIGH: "[0, 1]: upper end of the Wilson interval of prior_share",
    CLASS_GRID_SHARE_CI_LOW: "[0, 1]: lower end of the 95 % Wilson interval of grid_share (over the N×N grid "
                             "images; few images, so wide)",
    CLASS_GRID_SHARE_CI_HIGH: "[0, 1]: upper end of the Wilson interval of grid_share",
    CLASS_QGRID_SHARE_CI_LOW: "[0, 1]: lower end of the 95 % Wilson interval of qgrid_share",
    CLASS_QGRID_SHARE_CI_HIGH: "[0, 1]: upper end of the Wilson interval of qgrid_share",
    CLASS_GRID_INSIDE: "[0, 1], ↑: share of this digit's own test codes inside the linear grid's window; near 0 = "
                       "the grid cannot show the digit wherever the model puts it, so its absence from the grid "
                       "is no evidence of a collapse (weighted by data_share the digits add up to "
                       "grid_inside_fraction)",
    CLASS_QGRID_INSIDE: "[0, 1], ↑: share of this digit's own test codes inside the quantile grid's window",
    # pairs.csv
    CONFUSION_RATE: "[0, 1], ↓: (C[a,b] + C[b,a]) / (n_a + n_b) of the test-set kNN classifier: how often the "
                    "two digits are taken for one another",
}
for _prefix, _what in _SAMPLES.items():
    COLUMN_DOCS.update({_prefix + _name: _doc.format(what=_what)
                        for _name, _doc in {**_HISTOGRAM_DOCS, **_READABILITY_DOCS}.items()})


def column_doc(column: str) -> str:
    """What ``column`` means (``COLUMN_DOCS``; ``kl_dim_<i>`` by its prefix); "" for an unknown column."""
    if column not in COLUMN_DOCS and column.startswith(KL_PER_DIM_PREFIX):
        return COLUMN_DOCS[KL_PER_DIM_PREFIX]
    return COLUMN_DOCS.get(column, "")


# --- the documented range of every numeric column (checked when a run's tables are read: vaediag.store.ranges) --
INF = math.inf
UNIT = (0.0, 1.0)  # accuracies, shares, fractions, rates, precision / recall / coverage, interval bounds
NON_NEGATIVE = (0.0, INF)  # nats, distances, counts, seconds

_HISTOGRAM_RANGES = {
    ENTROPY: (0.0, math.log(N_CLASSES)),
    ENTROPY_NORM: UNIT,
    MODES_COVERED: (0.0, float(N_CLASSES)),
    KL_FROM_DATA: NON_NEGATIVE,
    CONFIDENCE: (1.0 / N_CLASSES, 1.0),
    CLASSIFIER_SCORE: (1.0, float(N_CLASSES)),
}

# column -> (lowest, highest) allowed value. Column names shared by several tables (``silhouette`` in
# metrics.csv and per_class.csv) have the same range in each.
COLUMN_RANGES: dict[str, tuple[float, float]] = {
    # history.csv (and the history columns joined into metrics.csv): losses in nats/sample
    **{c: NON_NEGATIVE for c in (TRAIN_LOSS, TRAIN_RECON, TRAIN_KL, TRAIN_EVAL_LOSS, TRAIN_EVAL_RECON,
                                 TRAIN_EVAL_KL, TEST_LOSS, TEST_RECON, TEST_KL, EPOCH_SECONDS)},
    # latent separation
    SILHOUETTE: (-1.0, 1.0),
    KNN_ACCURACY: UNIT,
    DAVIES_BOULDIN: NON_NEGATIVE,
    CALINSKI_HARABASZ: NON_NEGATIVE,
    MOST_MIXED_PAIR_RATE: UNIT,
    # latent usage (kl_dim_<i>: see KL_PER_DIM_RANGE)
    ACTIVE_UNITS: NON_NEGATIVE,
    TOTAL_CORRELATION: NON_NEGATIVE,
    AGGPOST_MEAN_NORM: NON_NEGATIVE,
    AGGPOST_VAR_MEAN: NON_NEGATIVE,
    AGGPOST_KL_PRIOR: NON_NEGATIVE,
    # generation: the histogram metrics of prior samples and of both grids; the grid windows
    **{prefix + name: r for prefix in (PRIOR, GRID, QGRID) for name, r in _HISTOGRAM_RANGES.items()},
    **{p + n: NON_NEGATIVE if n == N_READABLE else UNIT for p in (PRIOR, GRID, QGRID) for n in READABILITY_METRICS},
    **{c: UNIT for c in JUDGE_COLUMNS},
    GRID_SPAN: NON_NEGATIVE,
    GRID_INSIDE: UNIT,
    QGRID_SPAN: NON_NEGATIVE,
    QGRID_INSIDE: UNIT,
    # sample quality
    FRECHET: NON_NEGATIVE,
    PRECISION: UNIT,
    RECALL: UNIT,
    DENSITY: NON_NEGATIVE,
    COVERAGE: UNIT,
    EVAL_LOSS: NON_NEGATIVE,  # reconstruction / likelihood
    EVAL_RECON: NON_NEGATIVE,
    EVAL_KL: NON_NEGATIVE,
    RECON_ACCURACY: UNIT,
    IWAE_NLL: NON_NEGATIVE,
    IWAE_TRAIN_NLL: NON_NEGATIVE,
    **{c: UNIT for c in (PRIOR_ENTROPY_NORM_CI_LOW, PRIOR_ENTROPY_NORM_CI_HIGH, KNN_ACCURACY_CI_LOW,
                         KNN_ACCURACY_CI_HIGH)},
    # per_class.csv (its silhouette column is SILHOUETTE's name and range)
    CLASS_KNN_RECALL: UNIT,
    CLASS_PRIOR_SHARE: UNIT,
    CLASS_GRID_SHARE: UNIT,
    CLASS_QGRID_SHARE: UNIT,
    CLASS_DATA_SHARE: UNIT,
    **{c: UNIT for c in (CLASS_PRIOR_SHARE_CI_LOW, CLASS_PRIOR_SHARE_CI_HIGH, CLASS_GRID_SHARE_CI_LOW,
                         CLASS_GRID_SHARE_CI_HIGH, CLASS_QGRID_SHARE_CI_LOW, CLASS_QGRID_SHARE_CI_HIGH,
                         CLASS_GRID_INSIDE, CLASS_QGRID_INSIDE, CLASS_PRIOR_CODE_SHARE, CLASS_PRIOR_CODE_SHARE_CI_LOW,
                         CLASS_PRIOR_CODE_SHARE_CI_HIGH, CLASS_RECON_RECALL, CLASS_RECON_RECALL_CI_LOW,
                         CLASS_RECON_RECALL_CI_HIGH)},
    CONFUSION_RATE: UNIT,  # pairs.csv
}
KL_PER_DIM_RANGE = NON_NEGATIVE  # every kl_dim_<i> column
