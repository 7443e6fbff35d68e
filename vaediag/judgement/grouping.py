"""Which runs are replicates of one configuration: the configuration of a run and the label of its group.

Runs that agree on every key of :data:`GROUP_KEYS` (everything but the seed) form one group, and statistics over
seeds (:mod:`vaediag.judgement.replicates`) are computed per group. ``epochs`` / ``checkpoints`` are not keys:
without a learning-rate schedule a run's epoch-k state does not depend on them. Runs on different datasets never
form one group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vaediag.store.rundir import Run

MODEL, LATENT_DIM, BETA, SEED, DATASET = "model", "latent_dim", "beta", "seed", "dataset"
GROUP, N_SEEDS, SEEDS, RUN_DIR = "group", "n_seeds", "seeds", "run_dir"
GROUP_KEYS = (MODEL, LATENT_DIM, BETA, "batch_size", "lr", "train_size", "test_size", DATASET)
CONFIG_COLUMNS = GROUP_KEYS + (SEED,)


SUBSET_KEYS = ("train_size", "test_size")  # None there means the whole set; elsewhere, a value not recorded
USER_KEYS = (BETA, "batch_size", "lr", SEED)  # an external run's training settings, when its user config has them


def _user_settings(run: Run) -> dict:
    """The training settings an external run's user config (``evaluate_model(config=...)``) states."""
    user = run.config.get("user")
    if not isinstance(user, dict):
        return {}
    return {k: user[k] for k in USER_KEYS if isinstance(user.get(k), (int, float, str)) and
            not isinstance(user.get(k), bool)}


def config_values(run: Run) -> dict:
    """The configuration of ``run`` under :data:`CONFIG_COLUMNS` (an external run's model is its class name, its
    evaluation subsets stand for the training subsets, its β / batch size / lr / seed are those its user config
    states, if any: the evaluation's seed is not a training seed; a setting the run does not record is None)."""
    model, train = run.model_config, dict(run.config.get("train") or {})
    values = {k: model.get(k) for k in (MODEL, LATENT_DIM, BETA)}
    if run.is_external:
        user = _user_settings(run)
        values[MODEL] = model.get("class")
        values[BETA] = user.get(BETA)
        evaluation = dict(run.config.get("evaluation") or {})
        train = {**{k: evaluation.get(k) for k in SUBSET_KEYS}, **user}
    values[DATASET] = run.dataset
    values.update({k: train.get(k) for k in CONFIG_COLUMNS if k not in values})
    return values


def key_text(value, key: str | None = None) -> str:
    """A configuration value as a group label writes it: "unknown" for a value that is not recorded ("all" for
    a train_size / test_size of None: the whole set)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "all" if key in SUBSET_KEYS else "unknown"
    return f"{value:g}" if isinstance(value, float) else str(value)


def group_labels(df: pd.DataFrame) -> pd.Series:
    """"mlp, d=2, β=1" plus any other group key that differs between the runs of ``df`` (one row per run or
    per (run, epoch), with the :data:`GROUP_KEYS` columns)."""
    varying = [k for k in GROUP_KEYS[3:] if df[k].map(lambda v, k=k: key_text(v, k)).nunique() > 1]

    def label(row) -> str:
        parts = [str(row[MODEL]), f"d={key_text(row[LATENT_DIM])}", f"β={key_text(row[BETA], BETA)}"]
        return ", ".join(parts + [f"{k}={key_text(row[k], k)}" for k in varying])

    return df.apply(label, axis=1)


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The metric columns of a :func:`vaediag.compare.compare_runs` table, in order."""
    return [c for c in df.columns if c not in (*CONFIG_COLUMNS, GROUP, RUN_DIR)]
