"""Train models for a few epochs and print what each epoch cost and reached: the numbers the README quotes.

    python benchmarks/train_table.py --models mlp,conv --seeds 0 --epochs 3 [--device auto] [--train-size N]
                                     [--init torch|glorot]   (default: each model's own default init)

Each (model, seed) is an ordinary ``vaediag train`` run on MNIST (full 60k/10k unless ``--train-size`` /
``--test-size``) in a temporary RUN_DIR; the table has one row per epoch: ``epoch_seconds`` (training pass
plus test evaluation, wall time), test loss and test KL (nats per sample). ``--csv PATH`` also writes it.
Run it alone on the machine: a second busy process on the same cores makes torch many times slower.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

from vaediag import columns as C
from vaediag.models.train_config import TrainConfig, VAEConfig, parse_epochs
from vaediag.train import train


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mlp,conv")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--init", default=None, help="weight init for every model (default: the model's own)")
    parser.add_argument("--csv", default=None)
    args = parser.parse_args(argv)
    rows = []
    for model in args.models.split(","):
        for seed in parse_epochs(args.seeds):
            init = {} if args.init is None else {"init": args.init}
            cfg = TrainConfig(model=VAEConfig(model, **init), epochs=args.epochs, checkpoints=(args.epochs,), seed=seed,
                              device=args.device, train_size=args.train_size, test_size=args.test_size)
            with tempfile.TemporaryDirectory() as tmp:
                history = train(cfg, Path(tmp) / "run", log=lambda *_: None, progress=False)
            for epoch, row in history.iterrows():
                rows.append({"model": model, "init": cfg.model.to_dict().get("init", "torch"), "seed": seed,
                             C.EPOCH: epoch, C.EPOCH_SECONDS: row[C.EPOCH_SECONDS],
                             C.TEST_LOSS: row[C.TEST_LOSS], C.TEST_KL: row[C.TEST_KL]})
            print(pd.DataFrame(rows[-len(history):]).to_string(index=False, float_format=lambda v: f"{v:.3f}"),
                  flush=True)
    table = pd.DataFrame(rows)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    print(f"\ndevice: {device}; torch {torch.__version__}; threads {torch.get_num_threads()}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
