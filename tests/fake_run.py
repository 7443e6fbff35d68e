"""Fabricate an evaluated RUN_DIR the way ``train`` + ``evaluate`` would write it, without training anything.

Used by the plots / report / compare tests (and free for any other test that needs an evaluated run)::

    from fake_run import make_fake_run
    run = make_fake_run(tmp_path / "run", epochs=(5, 15, 30, 50, 100), scenario="window")

Everything is written through :class:`vaediag.store.rundir.Run` (config, history, evaluation tables, artifacts), the
way ``train`` + ``evaluate`` write it: metrics with one ``source == "model"`` row per checkpoint epoch and the
``source == "data"`` reference row (epoch 0); per_class with 10 rows per epoch and 10 data rows; pairs with
45 rows per checkpoint epoch; artifacts test_mu, test_labels, grid_linear, grid_quantile, grid_span,
qgrid_span, prior_labels, prior_sheet (100 images), recon_pairs (2 x 20 images: two test digits of each class
and their blurred "reconstructions"); ``sheets=False`` leaves the last two out, as evaluations before they
existed did.

Scenarios shape the generation numbers at the *last* checkpoint (earlier ones stay healthy):

    "healthy"   every digit in prior and grid samples, grid window holds ~97 % of the test codes
    "collapse"  digits 2 and 3 vanish from prior samples *and* the grid: a model collapse
    "window"    prior samples are fine, the grid misses digits 0 and 1 and holds only ~55 % of the codes
    "posterior" posterior collapse: every code sits at the origin, no active unit, KL ~1e-4 nats per latent
                dimension; prior and grid samples all show digit 1 (what a decoder that ignores z draws)
    "imbalance" prior samples draw every digit, but digit 8 about three times as often as the data and
                digits 3 and 5 about a sixth as often (the shares of the real default study at epoch 30): low
                entropy, no digit missing
    "misread"   the classifier cannot read the model's 3s and 5s (recon recall 0 % vs latent kNN recall 70 %) and
                reads half the prior samples as 8, while the code judge finds every digit near its data share
                (what the old classifier made of a healthy model)

Both judges are fabricated (unless ``legacy``): the code judge names every prior sample as the classifier does
(the same counts, so a rule decides as with one judge; ``misread``: a multinomial draw from the data shares), no
prior sample lies off the codes and 2 % are unreadable; the classifier reads every digit in the reconstructions (recon recall ~0.9, ``misread``:
not 3 and 5). ``deterministic=True`` records a deterministic encoder in the evaluation settings (NaN KL columns).

The interval columns of issue 8 are written consistently with the fabricated counts: prior shares are counts
of ``PRIOR_SAMPLES`` multinomial draws, with Wilson intervals (``vaediag.stats``) over them; the grids' shares
get Wilson intervals over their grid points; the prior entropy and the kNN accuracy get bootstrap intervals
over the fabricated labels / correct-incorrect indicators; each digit's inside shares are set so that their
mean (equal digit counts) is the overall inside fraction; history.csv has ``train_eval_*`` (the eval-mode
train ELBO, about a nat below the test loss, and falling when ``overfit`` makes the test loss rise);
metrics.csv has both IWAE bounds. ``legacy=True`` writes a run as evaluated before issue 8: none of these
columns, and the chi-square p-value columns it had then.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag import stats
from vaediag.datasets.registry import class_names
from vaediag.store.rundir import PER_CLASS_COLUMNS, Evaluation, Run

SCENARIOS = ("healthy", "collapse", "window", "posterior", "imbalance", "misread")
MISREAD_SHARE = np.array([0.07, 0.11, 0.03, 0.0, 0.10, 0.0, 0.07, 0.04, 0.54, 0.04])  # the old judge, default MLP
UNREADABLE_COUNT, OFF_CODES = 20, 0.0
PRIOR_SAMPLES = 1000  # the evaluation setting "samples" of a fabricated run
# prior shares of the real default study (MLP, z = 2, seed 0) at epoch 30: every digit drawn, entropy 0.878
IMBALANCE_SHARE = np.array([0.0767, 0.1211, 0.0884, 0.0165, 0.1079, 0.0180, 0.0777, 0.0725, 0.3282, 0.0930])
LEGACY_CHI2 = "chi2_pvalue"  # the column suffix runs evaluated before issue 8 still hold
POSTERIOR_DIGIT = 1  # the one digit a posterior-collapsed decoder draws
DATA_SHARE = np.array([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]) / 10000.0  # MNIST test labels
MOST_MIXED = (4, 9)


def _entropy_norm(shares: np.ndarray) -> float:
    p = shares[shares > 0]
    return float(-(p * np.log(p)).sum() / np.log(10)) + 0.0  # + 0.0: one digit gives 0.0, not -0.0


def _shares(rng: np.random.Generator, missing: tuple[int, ...] = ()) -> np.ndarray:
    s = DATA_SHARE * rng.uniform(0.8, 1.2, 10)
    s[list(missing)] = 0.0
    return s / s.sum()


def _prior_labels(rng: np.random.Generator, shares: np.ndarray) -> np.ndarray:
    """PRIOR_SAMPLES classifier labels drawn with probabilities ``shares`` (their histogram is the share)."""
    counts = rng.multinomial(PRIOR_SAMPLES, shares)
    return rng.permutation(np.repeat(np.arange(10), counts)).astype(np.int64)


def _labels_entropy_norm(labels: np.ndarray) -> float:
    return _entropy_norm(np.bincount(labels, minlength=10) / len(labels))


def _hist_metrics(prefix: str, shares: np.ndarray, confidence: float, score: float, legacy: bool = False) -> dict:
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = float(np.nansum(np.where(shares > 0, shares * np.log(shares / DATA_SHARE), 0.0)))
    return {
        prefix + C.ENTROPY: _entropy_norm(shares) * np.log(10),
        prefix + C.ENTROPY_NORM: _entropy_norm(shares),
        prefix + C.MODES_COVERED: int((shares >= 0.01).sum()),
        prefix + C.KL_FROM_DATA: kl,
        **({prefix + LEGACY_CHI2: 0.0} if legacy else {}),
        prefix + C.CONFIDENCE: confidence,
        prefix + C.CLASSIFIER_SCORE: score,
    }


def _with_ci(column: str, shares: np.ndarray, n: int) -> dict:
    """``column``, ``column_ci_low``, ``column_ci_high``: per-digit shares with Wilson intervals over n."""
    low, high = stats.wilson_interval(np.round(shares * n), np.broadcast_to(np.asarray(n, dtype=float), (10,)))
    return {column: shares, column + C.CI_LOW: low, column + C.CI_HIGH: high}


def _judge_metrics(prior_labels: np.ndarray, code_labels: np.ndarray, n_grid: int) -> dict:
    """metrics.csv columns of the unreadable bucket (UNREADABLE_COUNT of the prior samples; the grids read entirely) and of the code judge (entropy with its bootstrap interval, OFF_CODES off the codes,
    agreement 0.9)."""
    out = {}
    for prefix, unreadable, total in ((C.PRIOR, UNREADABLE_COUNT, len(prior_labels)), (C.GRID, 0, n_grid),
                                      (C.QGRID, 0, n_grid)):
        low, high = stats.wilson_interval(unreadable, total)
        out.update({prefix + C.UNREADABLE_SHARE: unreadable / total, prefix + C.UNREADABLE_SHARE + C.CI_LOW: low,
                    prefix + C.UNREADABLE_SHARE + C.CI_HIGH: high, prefix + C.N_READABLE: total - unreadable})
    off_low, off_high = stats.wilson_interval(round(OFF_CODES * PRIOR_SAMPLES), PRIOR_SAMPLES)
    code_low, code_high = stats.bootstrap_interval(_labels_entropy_norm, code_labels, seed=0)
    agree_low, agree_high = stats.wilson_interval(0.9 * len(code_labels), len(code_labels))
    values = [0.9, agree_low, agree_high, OFF_CODES, off_low, off_high, _labels_entropy_norm(code_labels), code_low,
              code_high]
    return {**out, **dict(zip(C.JUDGE_COLUMNS, values))}


def _digit_image(digit: int, rng: np.random.Generator, noise: int = 30) -> np.ndarray:
    """A 28x28 uint8 'digit': a bright square whose position encodes the class, plus noise (below ``noise``;
    real digits have a clean background, so the explorer's fabricated images have little)."""
    img = rng.integers(0, noise, (28, 28)).astype(np.uint8)
    r, k = 2 + (digit // 5) * 12, 2 + (digit % 5) * 5
    img[r : r + 6, k : k + 6] = 230
    return img


def _explorer_arrays(mu: np.ndarray, labels: np.ndarray, progress: float, rng: np.random.Generator,
                     size: tuple[int, int] = (8, 12)) -> dict:
    """The latent explorer's arrays the way the evaluation's ``explorer`` stage writes them, on fabricated
    images: each grid point decodes to the 'digit' whose codes' mean lies nearest on the plane."""
    from vaediag.metrics import plane

    origin, basis = plane.latent_plane(mu)
    coords = plane.project(mu, origin, basis)
    extent = plane.plane_extent(coords)
    per_class, side = size
    shown = plane.stratified_indices(labels, per_class, 0)
    images = np.stack([_digit_image(int(labels[i]), np.random.default_rng(10_000 + int(i)), 3) for i in shown])  # the
    # same test images at every checkpoint, as the evaluation stores them
    recon = (images.astype(np.float64) * (0.5 + 0.5 * progress) + 40 * (1 - progress)).clip(0, 255)
    means = np.stack([coords[labels == d].mean(axis=0) for d in range(10)])
    points = plane.project(plane.plane_grid(origin, basis, extent, side), origin, basis)
    nearest = np.argmin(((points[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    return dict(explorer_plane=np.vstack([origin, basis]), explorer_extent=extent, explorer_index=shown,
                explorer_images=images, explorer_recon=recon.astype(np.uint8),
                explorer_grid=np.stack([_digit_image(int(d), rng, 3) for d in nearest]))


def make_fake_run(
    run_dir: str | Path,
    *,
    epochs: tuple[int, ...] = (1, 3, 5),
    scenario: str = "healthy",
    latent_dim: int = 2,
    n_test: int = 400,
    grid: int = 5,
    model: str = "mlp",
    beta: float = 1.0,
    seed: int = 0,
    lr: float = 1e-3,
    history_epochs: int | None = None,
    overfit: bool = False,
    write_artifacts: bool = True,
    sheets: bool = True,
    legacy: bool = False,
    dataset: str | None = None,
    deterministic: bool = False,
    code_judge: bool | None = None,
    explorer: bool = True,
    explorer_size: tuple[int, int] = (8, 12),
) -> Path:
    """Write a complete evaluated run into ``run_dir`` (created) and return it as a Path.

    ``seed`` is the training seed recorded in config.json and also varies every fabricated number a little,
    so runs that differ only by seed look like real repeats. ``overfit=True`` makes the test loss rise
    after epoch 30 while the train loss keeps falling. ``history_epochs`` (default ``max(epochs)``) sets
    how many epochs history.csv holds. ``legacy=True``: a run evaluated before issue 8 (no interval, inside-share,
    train_eval or IWAE-train columns; chi-square p-values present; the 0.3 class columns ``digit``, ``digit_a``,
    ``digit_b`` without names). ``dataset``: recorded in config.json (``"fashion-mnist"``: the tables name its
    classes; None: no ``dataset`` key, as runs before 0.4, read as MNIST). ``code_judge`` (default: not ``legacy``):
    write the second judge's and the judge-validity columns; ``deterministic``: a deterministic encoder. ``explorer=False`` (or ``sheets=False``) leaves out the latent explorer's arrays, as
    evaluations before it existed did; ``explorer_size``: its (test digits per class, grid side), small by default
    (the evaluation's own: ``vaediag.evaluate.stages.EXPLORER_PER_CLASS`` / ``EXPLORER_GRID``).
    """
    names = class_names(dataset)
    code_judge = not legacy if code_judge is None else code_judge  # a legacy run with it: the window fallbacks' tests
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    owner = Run(run)
    rng = np.random.default_rng(seed * 7919 + latent_dim * 31 + int(beta * 10))
    epochs = tuple(int(e) for e in epochs)
    last_epoch = epochs[-1]
    n_hist = history_epochs or last_epoch
    versions = {"vaediag": "0.1.0", "python": "3.11", "torch": "2.14.1", "torchvision": "0.29.1",
                "numpy": np.__version__, "pandas": pd.__version__, "platform": "test"}

    train_cfg = {"model": model, "latent_dim": latent_dim, "beta": beta, "epochs": n_hist,
                 "checkpoints": list(epochs), "batch_size": 128, "lr": lr, "seed": seed, "device": "cpu",
                 "train_size": 3000, "test_size": n_test, "data_root": None}
    owner.write_config({"model": {"model": model, "latent_dim": latent_dim, "beta": beta}, "train": train_cfg,
                        "device": "cpu", "n_train": 3000, "n_test": n_test, "versions": versions,
                        **({"dataset": dataset} if dataset else {})})

    # --- history.csv: losses fall like 1/epoch; overfit makes test rise after epoch 30 -------------------
    e = np.arange(1, n_hist + 1, dtype=float)
    noise = rng.normal(0, 0.05, n_hist)
    train_loss = 140 + 60 / e + noise
    test_loss = 142 + 55 / e + noise + (np.maximum(e - 30, 0) * 0.2 if overfit else 0.0)
    train_eval = 141 + 55 / e + rng.normal(0, 0.05, n_hist) - (np.maximum(e - 30, 0) * 0.02 if overfit else 0.0)
    hist_columns = list(C.HISTORY_COLUMNS) + [c for c in (C.TRAIN_EVAL_LOSS, C.TRAIN_EVAL_RECON, C.TRAIN_EVAL_KL)
                                              if c not in C.HISTORY_COLUMNS and not legacy]
    if legacy:
        hist_columns = [c for c in hist_columns if c not in (C.TRAIN_EVAL_LOSS, C.TRAIN_EVAL_RECON, C.TRAIN_EVAL_KL)]
    hist = pd.DataFrame({
        C.EPOCH: e.astype(int), C.TRAIN_LOSS: train_loss, C.TRAIN_RECON: train_loss - 6, C.TRAIN_KL: 6 + 0 * e,
        C.TEST_LOSS: test_loss, C.TEST_RECON: test_loss - 6.2, C.TEST_KL: 6.2 + 0 * e,
        C.EPOCH_SECONDS: 1.5 + 0 * e,
        C.TRAIN_EVAL_LOSS: train_eval, C.TRAIN_EVAL_RECON: train_eval - 6.1, C.TRAIN_EVAL_KL: 6.1 + 0 * e,
    }, columns=hist_columns).set_index(C.EPOCH)
    owner.write_history(hist)

    span, qspan = 1.0, 1.6448536269514722
    labels = np.arange(n_test) % 10
    centres = np.stack([np.cos(2 * np.pi * np.arange(10) / 10), np.sin(2 * np.pi * np.arange(10) / 10)], 1)
    rows, per_class, pairs, artifacts = [], [], [], {}
    for i, ep in enumerate(epochs):
        is_last = ep == last_epoch
        progress = (i + 1) / len(epochs)
        # --- latent codes: class blobs that tighten with training; "window" spreads them far out --------
        collapsed = scenario == "posterior" and is_last
        scale = 2.5 if (scenario == "window" and is_last) else 0.8
        mu2 = centres[labels] * scale + rng.normal(0, 0.6 - 0.3 * progress, (n_test, 2))
        mu = np.concatenate([mu2, rng.normal(0, 0.3, (n_test, max(latent_dim - 2, 0)))], 1)[:, :latent_dim]
        if collapsed:
            mu = rng.normal(0, 0.005, mu.shape)
        dims = min(latent_dim, 2)
        inside = float(np.mean(np.all(np.abs(mu[:, :dims]) <= span, axis=1)))
        qinside = float(np.mean(np.all(np.abs(mu[:, :dims]) <= qspan, axis=1)))
        if scenario == "healthy" or not is_last:
            inside = max(inside, 0.97)  # the numbers, not the fabricated codes, define the scenario
        if scenario == "window" and is_last:
            inside = 0.55

        one_digit = tuple(d for d in range(10) if d != POSTERIOR_DIGIT)
        prior_missing = {"collapse": (2, 3), "posterior": one_digit}.get(scenario, ()) if is_last else ()
        grid_missing = {"collapse": (2, 3), "window": (0, 1), "posterior": one_digit}.get(scenario, ())
        grid_missing = grid_missing if is_last else ()
        prior_p = IMBALANCE_SHARE if (scenario == "imbalance" and is_last) else _shares(rng, prior_missing)
        misread = scenario == "misread" and is_last
        prior_p = MISREAD_SHARE / MISREAD_SHARE.sum() if misread else prior_p
        prior_labels = _prior_labels(rng, prior_p)
        prior_s = np.bincount(prior_labels, minlength=10) / PRIOR_SAMPLES
        code_labels = _prior_labels(rng, DATA_SHARE) if misread else prior_labels
        code_s = np.bincount(code_labels, minlength=10) / len(code_labels)
        agree = 0.9 * np.minimum(prior_s, code_s) / np.maximum(np.maximum(prior_s, code_s), 1e-9)
        recall = np.full(10, 0.92)
        if misread:
            recall[[3, 5]] = 0.0
        grid_s, qgrid_s = _shares(rng, grid_missing), _shares(rng, prior_missing)
        inside_share = np.full(10, inside)
        if scenario == "window" and is_last:
            inside_share[list(grid_missing)] = 0.05  # the missing digits' codes lie outside the window
            others = [d for d in range(10) if d not in grid_missing]
            inside_share[others] = (10 * inside - 0.05 * len(grid_missing)) / len(others)
        qinside_share = np.full(10, qinside)
        sil = 0.10 + 0.25 * progress + rng.normal(0, 0.005)
        knn = round((0.80 + 0.15 * progress + rng.normal(0, 0.002)) * n_test) / n_test
        correct = np.r_[np.ones(round(knn * n_test)), np.zeros(n_test - round(knn * n_test))]
        rates = rng.uniform(0.0, 0.03, 45)
        a_idx, b_idx = np.triu_indices(10, 1)
        top = int(np.flatnonzero((a_idx == MOST_MIXED[0]) & (b_idx == MOST_MIXED[1]))[0])
        rates[top] = 0.12 - 0.06 * progress
        second = int(np.flatnonzero((a_idx == 3) & (b_idx == 5))[0])
        rates[second] = 0.08 - 0.03 * progress
        row = {C.EPOCH: ep, C.SOURCE: C.SOURCE_MODEL}
        row.update(hist.loc[ep].to_dict() if ep in hist.index else {})
        row.update({
            C.SILHOUETTE: sil, C.KNN_ACCURACY: knn, C.DAVIES_BOULDIN: 2.0 - progress,
            C.CALINSKI_HARABASZ: 900 * progress,
            C.MOST_MIXED_PAIR: names.pair(*MOST_MIXED), C.MOST_MIXED_PAIR_RATE: rates[top],
            C.ACTIVE_UNITS: 0 if collapsed else latent_dim, C.TOTAL_CORRELATION: 0.05, C.AGGPOST_MEAN_NORM: 0.02,
            C.AGGPOST_VAR_MEAN: 0.9, C.AGGPOST_KL_PRIOR: 0.04,
            **{f"{C.KL_PER_DIM_PREFIX}{d}": 1e-4 * (1 + d) if collapsed else 3.0 / latent_dim
               for d in range(latent_dim)},
            **_hist_metrics(C.PRIOR, prior_s, 0.80 + 0.1 * progress, 6 + 2 * progress, legacy),
            **_hist_metrics(C.GRID, grid_s, 0.85, 7.0, legacy),
            **_hist_metrics(C.QGRID, qgrid_s, 0.84, 6.9, legacy),
            C.GRID_SPAN: span, C.GRID_INSIDE: inside, C.QGRID_SPAN: qspan, C.QGRID_INSIDE: qinside,
            C.FRECHET: 40.0 - 25 * progress + rng.normal(0, 0.1), C.PRECISION: 0.6 + 0.2 * progress,
            C.RECALL: 0.5 + 0.2 * progress - (0.2 if prior_missing else 0), C.DENSITY: 0.8,
            C.COVERAGE: 0.6 + 0.2 * progress - (0.2 if prior_missing else 0),
            C.EVAL_LOSS: row.get(C.TEST_LOSS, 150.0), C.EVAL_RECON: row.get(C.TEST_RECON, 144.0),
            C.EVAL_KL: np.nan if deterministic else 6.2, C.RECON_ACCURACY: 0.85 + 0.1 * progress, C.IWAE_NLL: np.nan,
        })
        if deterministic:
            row.update({f"{C.KL_PER_DIM_PREFIX}{d}": np.nan for d in range(latent_dim)})
        if not legacy:
            seed_ci = dict(seed=0)
            row.update({
                C.PRIOR + C.ENTROPY_NORM + C.CI_LOW: 0.0, C.PRIOR + C.ENTROPY_NORM + C.CI_HIGH: 0.0,
                C.KNN_ACCURACY + C.CI_LOW: 0.0, C.KNN_ACCURACY + C.CI_HIGH: 0.0,
                C.IWAE_NLL: row[C.EVAL_LOSS] - 4.0, C.IWAE_TRAIN_NLL: row[C.EVAL_LOSS] - 5.0,
            })
            (row[C.PRIOR + C.ENTROPY_NORM + C.CI_LOW], row[C.PRIOR + C.ENTROPY_NORM + C.CI_HIGH]) = \
                stats.bootstrap_interval(_labels_entropy_norm, prior_labels, **seed_ci)
            (row[C.KNN_ACCURACY + C.CI_LOW], row[C.KNN_ACCURACY + C.CI_HIGH]) = \
                stats.bootstrap_interval(np.mean, correct, **seed_ci)
        if code_judge:
            row.update(_judge_metrics(prior_labels, code_labels, n_grid=grid ** 2))
        rows.append(row)
        columns = {**_with_ci(C.CLASS_PRIOR_SHARE, prior_s, PRIOR_SAMPLES), **_with_ci(C.CLASS_GRID_SHARE, grid_s, grid ** 2),
                   **_with_ci(C.CLASS_QGRID_SHARE, qgrid_s, grid ** 2), C.CLASS_GRID_INSIDE: inside_share,
                   C.CLASS_QGRID_INSIDE: qinside_share}
        judged = {**_with_ci(C.CLASS_PRIOR_CODE_SHARE, code_s, len(code_labels)),
                  **_with_ci(C.CLASS_JUDGE_AGREEMENT, agree, PRIOR_SAMPLES // 5),
                  **_with_ci(C.CLASS_RECON_RECALL, recall, np.bincount(labels, minlength=10))}
        if legacy:
            columns = {c: columns[c] for c in (C.CLASS_PRIOR_SHARE, C.CLASS_GRID_SHARE, C.CLASS_QGRID_SHARE)}
        columns.update(judged if code_judge else {})
        for d in range(10):
            per_class.append({C.SOURCE: C.SOURCE_MODEL, C.EPOCH: ep, C.CLASS: d, C.CLASS_NAME: names.name(d),
                              C.CLASS_SILHOUETTE: sil + 0.01 * d,
                              C.CLASS_KNN_RECALL: 0.7 if misread and d in (3, 5) else knn,
                              **{c: float(v[d]) for c, v in columns.items()},
                              C.CLASS_DATA_SHARE: DATA_SHARE[d]})
        for a, b, r in zip(a_idx, b_idx, rates):
            pairs.append({C.EPOCH: ep, C.CLASS_A: int(a), C.CLASS_B: int(b), C.CLASS_A_NAME: names.name(a),
                          C.CLASS_B_NAME: names.name(b), C.CONFUSION_RATE: r})

        if write_artifacts:
            grid_digits = np.array([[d for d in range(10) if d not in grid_missing][k % (10 - len(grid_missing))]
                                    for k in range(grid * grid)])
            prior_digits = np.array([d for d in range(10) if d not in prior_missing])
            artifacts[ep] = dict(
                test_mu=mu.astype(np.float32), test_labels=labels.astype(np.int64),
                grid_linear=np.stack([_digit_image(int(d), rng) for d in grid_digits]),
                grid_quantile=np.stack([_digit_image(int(d), rng) for d in np.roll(grid_digits, 3)]),
                grid_span=np.float64(span), qgrid_span=np.float64(qspan),
                prior_labels=prior_labels,
            )
            if sheets:
                shown = np.array([np.flatnonzero(labels == d)[k] for k in range(2) for d in range(10)])
                originals = np.stack([_digit_image(int(labels[i]), rng) for i in shown])
                blurred = (originals.astype(np.float64) * (0.5 + 0.5 * progress) + 40 * (1 - progress))
                artifacts[ep].update(
                    prior_sheet=np.stack([_digit_image(int(d), rng) for d in rng.choice(prior_digits, 100)]),
                    recon_pairs=np.stack([originals, blurred.clip(0, 255).astype(np.uint8)]))
                if explorer:
                    rng_ex = np.random.default_rng([seed, ep])  # its own draws: the other numbers stay as they were
                    artifacts[ep].update(_explorer_arrays(mu, labels, progress, rng_ex, explorer_size))

    ref = _hist_metrics(C.PRIOR, DATA_SHARE, 0.99, 9.8, legacy)
    ref.update({} if legacy else {C.PRIOR + C.UNREADABLE_SHARE: 0.003, C.PRIOR + C.UNREADABLE_SHARE + C.CI_LOW: 0.002,
                                  C.PRIOR + C.UNREADABLE_SHARE + C.CI_HIGH: 0.004, C.PRIOR + C.N_READABLE: n_test})
    rows.append({C.EPOCH: C.DATA_EPOCH, C.SOURCE: C.SOURCE_DATA, **ref, C.FRECHET: 0.8, C.PRECISION: 0.95, C.RECALL: 0.95,
                 C.DENSITY: 1.0, C.COVERAGE: 0.96, C.RECON_ACCURACY: np.nan})
    for d in range(10):
        per_class.append({C.SOURCE: C.SOURCE_DATA, C.EPOCH: C.DATA_EPOCH, C.CLASS: d, C.CLASS_NAME: names.name(d),
                          C.CLASS_PRIOR_SHARE: DATA_SHARE[d],
                          C.CLASS_DATA_SHARE: DATA_SHARE[d]})
    metrics = pd.DataFrame(rows).set_index(C.EPOCH)
    metrics = metrics[[C.SOURCE] + [c for c in metrics.columns if c != C.SOURCE]]
    settings = {"samples": PRIOR_SAMPLES, "grid": grid, "grid_span": span, "qgrid_span": qspan, "knn_k": 5, "prdc_k": 5,
                "iwae": 0, "seed": 0, "n_test": n_test, **({} if legacy else {"unreadable_below": 0.5}),
                **({"deterministic": True} if deterministic else {})}
    per_class = pd.DataFrame(per_class)
    first = [c for c in PER_CLASS_COLUMNS if c in per_class.columns]
    per_class = per_class[first + [c for c in per_class.columns if c not in first]]
    pairs = pd.DataFrame(pairs)
    if legacy:  # vaediag <= 0.3: "digit" columns, no names (renamed and named when read)
        per_class = per_class.drop(columns=[C.CLASS_NAME]).rename(columns={C.CLASS: "digit"})
        pairs = pairs.drop(columns=[C.CLASS_A_NAME, C.CLASS_B_NAME]).rename(
            columns={C.CLASS_A: "digit_a", C.CLASS_B: "digit_b"})
    evaluation = Evaluation(metrics, per_class, pairs,
                            settings, {}, artifacts if write_artifacts else {})
    owner.write_evaluation(evaluation, versions)
    return run


SHARED_EPOCHS = (5, 30, 50)
_SHARED: dict = {}


def shared_run_with_figures(tmp_path_factory):
    """One fabricated "window" run (checkpoints ``SHARED_EPOCHS``) with its figures drawn, built once per
    test session and shared by the plots and report tests (drawing is the slow part)."""
    if "run" not in _SHARED:
        from vaediag.plots import make_figures

        run = make_fake_run(tmp_path_factory.mktemp("shared") / "run", epochs=SHARED_EPOCHS, scenario="window")
        _SHARED["run"] = (run, make_figures(Run(run)))
    return _SHARED["run"]


def agreeing_code_judge(shares, entropy_ci=(np.nan, np.nan), n: int = 10000) -> dict:
    """VerdictEvidence fields of a code judge that sees what the image judge sees: the same ``shares`` (None: none)
    with Wilson intervals over ``n`` samples and the same entropy interval. With it a rule decides as one judge
    alone would; a test that is about the judges' agreement passes other numbers."""
    out = dict(code_entropy_norm=float(np.mean(entropy_ci)), code_entropy_ci=tuple(entropy_ci))
    if shares is not None:
        shares = np.asarray(shares, dtype=float)
        out.update(code_shares=shares, code_share_ci=stats.share_interval(shares, n))
    return out

