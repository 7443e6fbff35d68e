"""The two judges measured on three VAEs: where the classifier (image judge) and the nearest test codes (code judge)
agree, how many prior samples each can name, and whether the classifier reads each model's reconstructions.

Run:  python benchmarks/judges.py [--work DIR] [--weights DIR] [--json FILE]

Models (trained here, seeded, on the real MNIST; about 5 min on 2 CPU cores):

- ``mlp-z2``: vaediag's default MLP (z = 2), 5 epochs on the 60k training digits (the default study's epoch 5);
- ``mlp-z20``: the same MLP with z = 20 (same training) — z = 2 vs z = 20 with nothing else changed;
- ``example-z20``: the pytorch/examples VAE (784-400-20, z = 20), 3 epochs on 10k training digits in its own loop,
  evaluated with ``vaediag.evaluate_model``.

Each is evaluated with the default settings (10k prior samples, 10k test images, knn_k = 5) by the shipped
classifier, or by the one in ``--weights`` (a folder holding digit_cnn.pt / .json, e.g. a calibrated judge).
First the judge's reading of constructed images (40 blank, 40 uniformly grey 0.5, 40 uniform-noise images: its
arg-max class counts and top probabilities; a calibrated judge calls them unreadable). Then per model: the
unreadable share, the share of prior samples off the test codes, the two judges' agreement,
both judges' normalised entropies, the collapse verdict, the code judge's seconds (a shared machine: indicative
only), and per digit the classifier's share, the code judge's share, the classifier's recall on the
reconstructions and the latent kNN recall (the numbers behind ``RECON_READ_MIN`` / ``RECALL_GAP`` and the guide's
two-judge section).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

import vaediag
from vaediag import columns as C
from vaediag.datasets.data import MNISTData, load_mnist
from vaediag.datasets.judge_checks import ExamplesVAE
from vaediag.judgement.run_verdict import run_verdict
from vaediag.store.rundir import Run


def train_example(epochs: int = 3, train_size: int = 10000, seed: int = 1) -> ExamplesVAE:
    """pytorch/examples' model (:class:`vaediag.datasets.judge_checks.ExamplesVAE`, z = 20) in its own training loop:
    Adam 1e-3, batches of 128, summed BCE + KL, the noise from torch's global generator as the example draws it."""
    data = load_mnist(train_size=train_size, test_size=1000, seed=0, log=lambda *_: None)
    x = MNISTData.to_float(data.train_images)
    torch.manual_seed(seed)
    model = ExamplesVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        for batch in x[torch.randperm(len(x))].split(128):
            mu, logvar = model.encode(batch)
            recon = model.decode(mu + torch.randn_like(mu) * (0.5 * logvar).exp()).view(-1, 784)
            loss = F.binary_cross_entropy(recon, batch.view(-1, 784), reduction="sum") \
                - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def summary(run: Run, epoch: int, seconds: float) -> dict:
    pc = run.per_class
    rows = pc[(pc[C.SOURCE] == C.SOURCE_MODEL) & (pc[C.EPOCH] == epoch)].set_index(C.CLASS)
    verdict = run_verdict(run, epoch)
    metrics = [C.PRIOR + C.UNREADABLE_SHARE, C.PRIOR_OFF_CODES, C.JUDGE_AGREEMENT, C.JUDGE_AGREEMENT_CI_LOW,
               C.JUDGE_AGREEMENT_CI_HIGH, C.PRIOR + C.ENTROPY_NORM, C.PRIOR_CODE_ENTROPY_NORM, C.RECON_ACCURACY,
               C.KNN_ACCURACY]
    return {"epoch": epoch, **{m: round(run.value(m, epoch), 4) for m in metrics},
            "verdict": verdict.kind, "judge_cannot_read": list(verdict.judge_unreadable),
            "judges_disagree": list(verdict.judges_disagree), "code_judge_seconds": round(seconds, 3),
            "per_class": {c: [round(float(v), 4) for v in rows[c]] for c in (
                C.CLASS_PRIOR_SHARE, C.CLASS_PRIOR_CODE_SHARE, C.CLASS_JUDGE_AGREEMENT, C.CLASS_RECON_RECALL,
                C.CLASS_RECON_RECALL_CI_HIGH, C.CLASS_KNN_RECALL)}}


def show(name: str, found: dict) -> None:
    print(f"== {name} (epoch {found['epoch']}): verdict {found['verdict']}; cannot read {found['judge_cannot_read']}; "
          f"judges disagree {found['judges_disagree']}; code judge {found['code_judge_seconds']} s")
    print("   " + ", ".join(f"{k} {v}" for k, v in found.items() if isinstance(v, float)))
    print("   digit           " + " ".join(f"{d:>6d}" for d in range(10)))
    for column, values in found["per_class"].items():
        print(f"   {column:15s} " + " ".join(f"{v:6.3f}" for v in values))


def constructed(classifier) -> dict:
    """The judge on images that show no digit: {name: (arg-max counts [10], min and max top probability)}."""
    from vaediag.datasets.classifier import classify, load_classifier

    judge = classifier if classifier is not None else load_classifier("cpu")
    g = torch.Generator().manual_seed(0)
    images = {"blank": torch.zeros(40, 1, 28, 28), "grey": torch.full((40, 1, 28, 28), 0.5),
              "noise": torch.rand(40, 1, 28, 28, generator=g)}
    out = {}
    for name, x in images.items():
        probs = classify(judge, x).probs
        out[name] = {"argmax_counts": [int(c) for c in (probs.argmax(1)[:, None] == range(10)).sum(0)],
                     "top_probability": [round(float(probs.max(1).min()), 3), round(float(probs.max(1).max()), 3)]}
        print(f"{name}: arg-max counts {out[name]['argmax_counts']}, top probability {out[name]['top_probability']}")
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--weights", type=Path, default=None, help="judge weights folder (default: the shipped)")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    work = args.work or Path(tempfile.mkdtemp(prefix="vaediag-judges-"))
    classifier = None
    if args.weights is not None:
        from vaediag.datasets.classifier import load_classifier

        classifier = load_classifier("cpu", weights_dir=args.weights)
    quiet = {"log": lambda *_: None}
    out = {"weights": str(args.weights or "shipped"), "constructed": constructed(classifier)}
    for name, latent_dim in (("mlp-z2", 2), ("mlp-z20", 20)):
        run_dir = work / name
        if not (run_dir / "checkpoints").is_dir():
            cfg = vaediag.TrainConfig(model=vaediag.VAEConfig("mlp", latent_dim=latent_dim), epochs=5, checkpoints=(5,),
                                      device="cpu", seed=0)
            vaediag.train_run(cfg, run_dir)
        ev = vaediag.evaluate_run(run_dir, epochs=[5], device="cpu", classifier=classifier, **quiet)
        out[name] = summary(Run(run_dir), 5, ev.timings["epochs"][5]["code_judge"])
        show(name, out[name])
    start = time.perf_counter()
    model = train_example()
    print(f"(pytorch/examples VAE trained in {time.perf_counter() - start:.0f} s)")
    ev = vaediag.evaluate_model(model, work / "example-z20", 3, device="cpu", classifier=classifier, **quiet)
    out["example-z20"] = summary(Run(work / "example-z20"), 3, ev.timings["epochs"][3]["code_judge"])
    show("example-z20", out["example-z20"])
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return out


if __name__ == "__main__":
    sys.exit(main() and 0)
