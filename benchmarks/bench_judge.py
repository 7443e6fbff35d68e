"""Benchmark: the judges shipped before the robust recipe vs the shipped ones, side by side on the robustness grid.

Run either way::

    .venv/bin/python benchmarks/bench_judge.py [--old-weights DIR] [--dataset mnist|fashion-mnist|all]
    .venv/bin/python -m pytest benchmarks/bench_judge.py -s

For every (Gaussian blur sigma, grey background) of the grid (``vaediag.datasets.degrade.degrade``) and each judge on
the dataset's 10k test images: accuracy, the share called the most frequent class, mean top probability.
The old weights come from ``--old-weights DIR`` (a folder with ``digit_cnn.*`` / ``fashion_cnn.*``) or, by
default, from git history at :data:`OLD_COMMIT`, extracted into a temporary folder.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
OLD_COMMIT = "2185728"  # the last commit with the judges trained on clean images only
DATASETS = ("mnist", "fashion-mnist")


def extract_old_weights(dest: Path, commit: str = OLD_COMMIT) -> Path:
    """Write the judges' weights + info json at ``commit`` (from this checkout's git history) into ``dest``."""
    from vaediag.datasets.classifier import CLASSIFIER_FILES

    for name in (n for files in CLASSIFIER_FILES.values() for n in files):
        blob = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:vaediag/weights/{name}"],
                              capture_output=True, check=True).stdout
        (dest / name).write_bytes(blob)
    return dest


def compare(dataset: str, old_dir: Path, test_size: int | None = None) -> str:
    """The grid of the old judge (``old_dir``) and the shipped one on ``dataset``'s test images, as a text table."""
    from vaediag.datasets.classifier import classify, load_classifier
    from vaediag.datasets.data import load_dataset
    from vaediag.datasets.degrade import GREYS, SIGMAS, degrade
    from vaediag.datasets.judge_checks import judge_row

    data = load_dataset(dataset, train_size=10, test_size=test_size, log=lambda *_: None)
    judges = {"old": load_classifier(dataset=dataset, weights_dir=old_dir), "new": load_classifier(dataset=dataset)}
    labels = data.test_labels.numpy()
    head = f"{'sigma':>5} {'grey':>5} | " + " | ".join(f"{k + ' acc':>8} {'top cls':>7} {'conf':>6}" for k in judges)
    lines = [f"{dataset}: {len(labels)} test images, old judge ({OLD_COMMIT}) vs new (shipped)", head]
    for sigma in SIGMAS:
        for grey in GREYS:
            x = degrade(data.test_images, sigma, grey)
            rows = [judge_row(classify(j, x).probs, labels) for j in judges.values()]
            lines.append(f"{sigma:>5.1f} {grey:>5.0%} | " + " | ".join(
                f"{r['accuracy']:>8.2%} {r['top_class_share']:>7.1%} {r['mean_confidence']:>6.3f}" for r in rows))
    return "\n".join(lines)


def run(datasets, old_weights: str | None, test_size: int | None = None) -> list[str]:
    """The comparison table of each dataset; a one-line message instead when the old weights are unavailable."""
    with tempfile.TemporaryDirectory() as tmp:
        if old_weights:
            old_dir = Path(old_weights)
        else:
            try:
                old_dir = extract_old_weights(Path(tmp))
            except (OSError, subprocess.CalledProcessError) as exc:
                return [f"bench_judge: no old weights: pass --old-weights DIR, or run inside a git checkout that "
                        f"holds commit {OLD_COMMIT} ({type(exc).__name__})"]
        try:
            return [compare(d, old_dir, test_size) for d in datasets]
        except Exception as exc:  # noqa: BLE001 - a missing or bad weights folder is one line
            from vaediag.errors import first_line

            return [f"bench_judge: cannot compare the judges: {first_line(exc)}"]


def test_old_vs_new_judge():
    torch.set_num_threads(1)
    tables = run(DATASETS, None)
    from conftest import COMPARISONS

    COMPARISONS.extend(tables)
    print("\n\n".join(tables))
    assert all(not t.startswith("bench_judge:") for t in tables), tables


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old-weights", help=f"folder with the old judges (default: git show {OLD_COMMIT}:...)")
    parser.add_argument("--dataset", choices=(*DATASETS, "all"), default="all")
    parser.add_argument("--test-size", type=int, default=None, help="a stratified subset of the 10k test images")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tables = run(DATASETS if args.dataset == "all" else (args.dataset,), args.old_weights, args.test_size)
    print("\n\n".join(tables))
    return 1 if any(t.startswith("bench_judge:") for t in tables) else 0


if __name__ == "__main__":
    sys.exit(main())
