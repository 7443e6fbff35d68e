"""The names of RUN_DIR's files and folders (the layout :class:`vaediag.store.rundir.Run` owns; nothing else
opens a run's file by name).

Layout (every file written atomically: temporary file + rename)::

    RUN_DIR/config.json                  model + training configuration, versions      (train)
    RUN_DIR/history.csv                  one row per training epoch                     (train)
    RUN_DIR/checkpoints/epoch_005.pt     one per checkpoint epoch; last.pt for --resume (train)
    RUN_DIR/metrics.csv                  one row per evaluated checkpoint + the real-data row (evaluate)
    RUN_DIR/per_class.csv, pairs.csv     per (epoch, digit) / (epoch, digit pair)       (evaluate)
    RUN_DIR/evaluation.json              evaluation settings, versions, timings         (evaluate)
    RUN_DIR/eval/epoch_005.npz           arrays behind the figures                      (evaluate)
    RUN_DIR/eval/manifest.json           SHA-256 of every evaluation result, written last (evaluate)
    RUN_DIR/eval/cache/                  per-checkpoint evaluation cache                (evaluate)
    RUN_DIR/eval/external.json           external run: evaluated epoch -> cache key     (evaluate_model)
    RUN_DIR/figures/<name>.png           figures                                        (report)
    RUN_DIR/report.html, report.md       the report                                     (report)
    RUN_DIR/study.json                   stage timings of `vaediag study`               (study)
"""

from __future__ import annotations

import re

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.pt"
METRICS_FILE = "metrics.csv"
PER_CLASS_FILE = "per_class.csv"
PAIRS_FILE = "pairs.csv"
EVALUATION_FILE = "evaluation.json"
EVAL_DIR = "eval"
MANIFEST_FILE = "manifest.json"  # in EVAL_DIR
CACHE_DIR = "cache"
FIGURES_DIR = "figures"
REPORT_HTML = "report.html"
REPORT_MD = "report.md"
STUDY_FILE = "study.json"
EXTERNAL_FILE = "external.json"  # in EVAL_DIR: the epochs of an external run and their cache keys
EXTERNAL_KIND = "external"  # config.json ``kind`` of a run made by vaediag.evaluate_model (no training)
EXTERNAL_CHECKPOINT_FORMAT = "vaediag-external-v1"  # evaluate_model(save_checkpoint=True): the user's state_dict
RESULT_TABLES = (METRICS_FILE, PER_CLASS_FILE, PAIRS_FILE)
LOCK_FILE = ".vaediag.files.lock"  # held by the one command that writes into RUN_DIR (vaediag.files.lock)

EPOCH_CHECKPOINT = re.compile(r"^epoch_(\d+)\.pt$")


def epoch_tag(epoch: int) -> str:
    return f"epoch_{int(epoch):03d}"
