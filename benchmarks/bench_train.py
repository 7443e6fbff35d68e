"""Training-speed benchmarks: one epoch of vaediag's loop vs reference implementations, same data.

Run:  pytest benchmarks/bench_train.py            (full 60k MNIST; about 4 minutes on 2 CPU cores)
      VAEDIAG_BENCH_TRAIN_SIZE=6000 pytest benchmarks/bench_train.py   (quick look)

Compared, per model, in one session on the same digits:
- mlp:  vaediag (dataset = one tensor, randperm batches) vs the pytorch/examples loop
        (torchvision MNIST + ToTensor + DataLoader, batch 128). Target: >= 3x faster.
- conv: vaediag's Keras-architecture conv VAE (channels_last, fused Adam) vs the same model in plain
        NCHW fp32 with torch.optim.Adam defaults, also fed from one in-memory tensor. Target: >= 1.5x.
The ratios are printed at the end of the session ("vaediag comparisons") and checked by
``test_speedup_targets``.
"""

from __future__ import annotations


import pytest
import torch
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

from vaediag.datasets.data import MNISTData, load_mnist
from vaediag.models.nets import ConvVAE, MLPVAE, VAEConfig
from vaediag.train import make_optimizer, train_one_epoch

from conftest import COMPARISONS, bench_size

BATCH = 128
SECONDS: dict[str, float] = {}
TARGETS = {"mlp": ("mlp_reference_dataloader", "mlp_vaediag", 3.0),
           "conv": ("conv_plain_inmemory", "conv_vaediag", 1.5)}


@pytest.fixture(scope="module")
def data(mnist_root):
    return load_mnist(mnist_root, train_size=bench_size(), seed=0, log=lambda *_: None)


def _time_once(benchmark, name, fn):
    benchmark.pedantic(fn, rounds=1, iterations=1, warmup_rounds=0)
    SECONDS[name] = benchmark.stats.stats.mean
    benchmark.extra_info["epoch_seconds"] = SECONDS[name]


def _inmemory_epoch(model, data, opt):
    """An epoch of vaediag's loop (one tensor, randperm batches) with the given optimizer."""
    x = MNISTData.to_float(data.train_images)
    gen = torch.Generator().manual_seed(0)
    train_one_epoch(model, opt, x[:4 * BATCH], BATCH, gen)  # warm-up (allocator, kernels)
    return lambda: train_one_epoch(model, opt, x, BATCH, gen)


def _reference_epoch(model, mnist_root, data):
    """The pytorch/examples vae/main.py loop: PIL decoding + ToTensor per sample, DataLoader batches."""
    ds = datasets.MNIST(mnist_root, train=True, download=False, transform=transforms.ToTensor())
    if len(data.train_labels) < len(ds):
        from vaediag.datasets.data import stratified_subset

        ds = Subset(ds, stratified_subset(ds.targets, len(data.train_labels), seed=0).tolist())
    loader = DataLoader(ds, batch_size=BATCH, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def epoch():
        model.train()
        for x, _ in loader:
            out = model(x)
            opt.zero_grad()
            out.loss.backward()
            opt.step()

    return epoch


def test_mlp_reference_dataloader(benchmark, data, mnist_root):
    torch.manual_seed(0)
    _time_once(benchmark, "mlp_reference_dataloader", _reference_epoch(MLPVAE(VAEConfig("mlp")), mnist_root, data))


def test_mlp_vaediag(benchmark, data):
    torch.manual_seed(0)
    model = MLPVAE(VAEConfig("mlp"))
    _time_once(benchmark, "mlp_vaediag", _inmemory_epoch(model, data, make_optimizer(model, 1e-3)))


def test_conv_plain_inmemory(benchmark, data):
    torch.manual_seed(0)
    model = ConvVAE(VAEConfig("conv"), channels_last=False)  # NCHW, torch.optim.Adam defaults
    _time_once(benchmark, "conv_plain_inmemory",
               _inmemory_epoch(model, data, torch.optim.Adam(model.parameters(), lr=1e-3)))


def test_conv_vaediag(benchmark, data):
    torch.manual_seed(0)
    model = ConvVAE(VAEConfig("conv"))  # channels_last, fused Adam
    _time_once(benchmark, "conv_vaediag", _inmemory_epoch(model, data, make_optimizer(model, 1e-3)))


def test_speedup_targets(data):
    n = len(data.train_labels)
    failed = []
    for model, (ref, ours, target) in TARGETS.items():
        if ref not in SECONDS or ours not in SECONDS:
            pytest.skip("run the whole file to compare")
        ratio = SECONDS[ref] / SECONDS[ours]
        COMPARISONS.append(f"{model}: {ref} {SECONDS[ref]:.1f}s vs {ours} {SECONDS[ours]:.1f}s per epoch "
                           f"of {n} digits (torch threads {torch.get_num_threads()}) -> {ratio:.2f}x "
                           f"(target >= {target}x)")
        if ratio < target:
            failed.append(model)
    assert not failed, f"speed-up target missed for {failed}: " + "; ".join(COMPARISONS)
