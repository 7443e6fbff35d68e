"""Column names of every vaediag table, defined once (the README documents each).

``metrics.csv``  : one row per evaluated checkpoint epoch (``source == "model"``), plus the reference row computed on
                   real test digits (``source == "data"``, ``epoch == 0``: no training epoch belongs to it).
``per_class.csv``: one row per (epoch, digit).
``pairs.csv``    : one row per (epoch, digit_a < digit_b).
``history.csv``  : one row per training epoch (written by training).

All losses are *per sample, in nats*.
"""

# --- keys shared by all tables -------------------------------------------------------------
EPOCH = "epoch"  # always an int: the training epoch of a checkpoint (0 on the real-data reference rows)
SOURCE = "source"  # what a row describes: SOURCE_MODEL (a checkpoint) or SOURCE_DATA (real test digits)
SOURCE_MODEL = "model"
SOURCE_DATA = "data"
DATA_EPOCH = 0  # EPOCH of the reference rows: real digits belong to no training epoch
N_CLASSES = 10  # digits 0-9

DIGIT = "digit"
DIGIT_A = "digit_a"
DIGIT_B = "digit_b"
RUN = "run"

# --- history.csv (training) ------------------------------------------------------------------
TRAIN_LOSS = "train_loss"  # negative ELBO, nats/sample (beta-weighted KL)
TRAIN_RECON = "train_recon"  # Bernoulli reconstruction NLL, nats/sample
TRAIN_KL = "train_kl"  # KL(q(z|x) || N(0, I)), nats/sample
TEST_LOSS = "test_loss"
TEST_RECON = "test_recon"
TEST_KL = "test_kl"
EPOCH_SECONDS = "epoch_seconds"
HISTORY_COLUMNS = [EPOCH, TRAIN_LOSS, TRAIN_RECON, TRAIN_KL, TEST_LOSS, TEST_RECON, TEST_KL, EPOCH_SECONDS]

# --- metrics.csv: latent separation (posterior means of the test set) ------------------------
SILHOUETTE = "silhouette"  # [-1, 1], higher = better separated
KNN_ACCURACY = "knn_accuracy"  # [0, 1], higher = digits separable by neighbours
DAVIES_BOULDIN = "davies_bouldin"  # >= 0, lower = better separated
CALINSKI_HARABASZ = "calinski_harabasz"  # >= 0, higher = better separated
MOST_MIXED_PAIR = "most_mixed_pair"  # e.g. "4-9"
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
CHI2_PVALUE = "chi2_pvalue"  # chi-square goodness of fit vs test label distribution
CONFIDENCE = "confidence"  # mean max class probability, [0.1, 1], higher = crisper digits
CLASSIFIER_SCORE = "classifier_score"  # exp(E KL(p(y|x) || p(y))), [1, 10], higher = diverse and crisp
HISTOGRAM_METRICS = [ENTROPY, ENTROPY_NORM, MODES_COVERED, KL_FROM_DATA, CHI2_PVALUE, CONFIDENCE, CLASSIFIER_SCORE]

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

# --- per_class.csv ----------------------------------------------------------------------------
CLASS_SILHOUETTE = "silhouette"
CLASS_KNN_RECALL = "knn_recall"
CLASS_PRIOR_SHARE = "prior_share"
CLASS_GRID_SHARE = "grid_share"
CLASS_QGRID_SHARE = "qgrid_share"
CLASS_DATA_SHARE = "data_share"  # share of the digit in the test labels

# --- pairs.csv --------------------------------------------------------------------------------
CONFUSION_RATE = "confusion_rate"  # (C[a,b] + C[b,a]) / (n_a + n_b) of the test-set kNN classifier
