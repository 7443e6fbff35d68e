"""The dataset registry: Fashion-MNIST from the Debian package (real and constructed .deb files), the
``--dataset`` option of every command that loads data, and the dataset a run records."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vaediag.datasets import fashion_deb, mnist_wheel, provision, registry  # noqa: F401
from vaediag.datasets.registry import UnknownDatasetError
from vaediag.cli import cli
from vaediag.models.train_config import TrainConfig, continued
from vaediag.datasets.mnist_wheel import idx_bytes
from vaediag.datasets.data import load_dataset
from vaediag.datasets.provision import prepare_dataset
from vaediag.datasets.deb import ar_members, read_deb_files
from vaediag.errors import ConfigError, DataError
from vaediag.store.rundir import Run
from vaediag.train import train

from helpers import assert_one_line_error, synthetic_digits

# The official Fashion-MNIST files (github.com/zalandoresearch/fashion-mnist), decompressed: written out here,
# not read from vaediag, so that the check is independent of the code under test.
OFFICIAL_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
DEB_DIR = "./usr/share/datasets/fashion-mnist/"
ENV_DEB = os.environ.get("VAEDIAG_FASHION_DEB")  # read before any test's monkeypatch removes it


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def raw_files(root) -> list[str]:
    raw = root / "FashionMNIST" / "raw"
    return sorted(p.name for p in raw.iterdir()) if raw.exists() else []


# ------------------------------------------------------------------------------------------ a .deb, built here


def ar_archive(members: dict[str, bytes]) -> bytes:
    """An ar archive as dpkg-deb writes one: magic, then per member a 60-byte header, the bytes, even padding."""
    out = [b"!<arch>\n"]
    for name, blob in members.items():
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(blob):<10}".encode("ascii") + b"`\n"
        assert len(header) == 60
        out += [header, blob, b"\n" if len(blob) % 2 else b""]
    return b"".join(out)


def tar_bytes(files: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buffer.getvalue()


def fake_deb(idx: dict[str, bytes], compression: str = "xz") -> bytes:
    """A dataset-fashion-mnist-shaped package holding ``idx`` (name -> IDX bytes) gzipped, like Debian's."""
    files = {f"{DEB_DIR}{name}.gz": gzip.compress(blob) for name, blob in idx.items()}
    return ar_archive({
        "debian-binary": b"2.0\n",
        "control.tar.xz": tar_bytes({"./control": b"Package: dataset-fashion-mnist\n"}, "w:xz"),
        f"data.tar.{compression}": tar_bytes(files, f"w:{compression}"),
    })


def synthetic_idx(n_train: int = 120, n_test: int = 40, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)),
        "train-labels-idx1-ubyte": idx_bytes((np.arange(n_train) % 10).astype(np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte": idx_bytes((np.arange(n_test) % 10).astype(np.uint8)),
    }


@pytest.fixture
def offline(monkeypatch):
    """torchvision's Fashion-MNIST mirrors unreachable; no $VAEDIAG_FASHION_DEB."""
    import torchvision.datasets

    def unreachable(*args, **kwargs):
        raise OSError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", unreachable)
    monkeypatch.delenv(fashion_deb.DEB_ENV, raising=False)


@pytest.fixture
def synthetic_hashes(monkeypatch):
    """Small synthetic IDX files that count as the verified Fashion-MNIST (the registry's hashes patched)."""
    idx = synthetic_idx()
    for name, blob in idx.items():
        monkeypatch.setitem(registry.FASHION_MNIST_SHA256, name, hashlib.sha256(blob).hexdigest())
    return idx


def fake_apt_get(tmp_path, monkeypatch, deb: bytes | None) -> None:
    """Put an ``apt-get`` first on PATH: it 'downloads' ``deb`` into its working folder, or fails like apt."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "apt-get"
    if deb is None:
        script.write_text("#!/bin/sh\necho 'E: Unable to locate package dataset-fashion-mnist' >&2\nexit 100\n")
    else:
        (tmp_path / "served.deb").write_bytes(deb)
        script.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'download -q' ] || exit 3\n"
                          f"cp '{tmp_path / 'served.deb'}' ./dataset-fashion-mnist_9.9-1_all.deb\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


# ------------------------------------------------------------------------------------------ the ar reader


def test_ar_members_reads_odd_and_even_members():
    blob = ar_archive({"debian-binary": b"2.0\n", "odd": b"abc", "even": b"de", "empty": b""})
    assert ar_members(blob) == {"debian-binary": b"2.0\n", "odd": b"abc", "even": b"de", "empty": b""}


@pytest.mark.parametrize("blob, fragment", [
    (b"PK\x03\x04 not an ar archive", "no ar magic"),
    (ar_archive({"debian-binary": b"2.0\n", "data.tar.xz": b"x" * 100})[:-30], "truncated"),
    (b"!<arch>\n" + b"debian-binary/  " + b"garbage" * 3, "truncated or corrupt"),
])
def test_ar_members_refuses_broken_archives(blob, fragment):
    with pytest.raises(DataError, match=fragment) as exc:
        ar_members(blob, "pkg.deb")
    assert "\n" not in str(exc.value)


def test_read_deb_files_accepts_xz_and_gz_and_refuses_other_compressions():
    idx = synthetic_idx(20, 10)
    wanted = [f"{DEB_DIR}{name}.gz" for name in idx]
    for compression in ("xz", "gz"):
        files = read_deb_files(fake_deb(idx, compression), wanted)
        assert {name: gzip.decompress(files[f"{DEB_DIR}{name}.gz"]) for name in idx} == idx
    with pytest.raises(DataError, match="data.tar.bz2 is not supported"):
        read_deb_files(fake_deb(idx, "bz2"), wanted)
    with pytest.raises(DataError, match="does not contain"):
        read_deb_files(fake_deb({k: v for k, v in idx.items() if "t10k" not in k}), wanted)


# ------------------------------------------------------------------------------------------ provisioning


@pytest.mark.mnist
def test_fashion_mnist_from_the_debian_package_into_an_empty_root(tmp_path, offline, monkeypatch):
    """The real route: $VAEDIAG_FASHION_DEB when the environment sets it (CI pre-fetches the .deb), else a real
    ``apt-get download dataset-fashion-mnist``; torchvision's download made to fail."""
    if ENV_DEB:
        monkeypatch.setenv(fashion_deb.DEB_ENV, ENV_DEB)
    root = tmp_path / "empty"
    logs = []
    assert prepare_dataset("fashion-mnist", root, log=logs.append) == root
    raw = root / "FashionMNIST" / "raw"
    assert sorted(OFFICIAL_SHA256) == raw_files(root)
    for name, sha in OFFICIAL_SHA256.items():
        assert hashlib.sha256((raw / name).read_bytes()).hexdigest() == sha
    assert any("torchvision's mirrors are not reachable" in line for line in logs)
    assert "dataset-fashion-mnist" in logs[-1]
    if not ENV_DEB:  # apt-get's .deb is cached for the next root-less preparation
        assert list((root / ".downloads").glob("dataset-fashion-mnist_*.deb"))
    monkeypatch.undo()  # torchvision's reader back
    images = load_dataset("fashion-mnist", root, train_size=100, test_size=50, log=logs.append)
    assert images.train_images.shape == (100, 28, 28) and images.n_test == 50


def test_synthetic_deb_via_env_installs_and_loads(tmp_path, offline, synthetic_hashes, monkeypatch):
    deb = tmp_path / "local.deb"
    deb.write_bytes(fake_deb(synthetic_hashes))
    monkeypatch.setenv(fashion_deb.DEB_ENV, str(deb))
    root = tmp_path / "root"
    prepare_dataset("fashion-mnist", root, log=lambda *_: None)
    for name, blob in synthetic_hashes.items():
        assert (root / "FashionMNIST" / "raw" / name).read_bytes() == blob
    assert provision.holds_verified("fashion-mnist", root) and not provision.holds_verified("mnist", root)
    monkeypatch.undo()  # torchvision's reader again (the hashes too: loading checks nothing more)
    for name, blob in synthetic_hashes.items():
        monkeypatch.setitem(registry.FASHION_MNIST_SHA256, name, hashlib.sha256(blob).hexdigest())
    loaded = load_dataset("fashion-mnist", root, log=lambda *_: None)
    assert loaded.n_train == 120 and loaded.n_test == 40
    expected = np.frombuffer(synthetic_hashes["t10k-images-idx3-ubyte"][16:], np.uint8).reshape(40, 28, 28)
    assert np.array_equal(loaded.test_images.numpy(), expected)
    assert torch.equal(loaded.train_labels, torch.arange(120) % 10)


def test_apt_get_route_downloads_caches_and_reuses_the_deb(tmp_path, offline, synthetic_hashes, monkeypatch):
    fake_apt_get(tmp_path, monkeypatch, fake_deb(synthetic_hashes))
    root = tmp_path / "root"
    logs = []
    prepare_dataset("fashion-mnist", root, log=logs.append)
    assert raw_files(root) == sorted(synthetic_hashes)
    cached = sorted((root / ".downloads").iterdir())
    assert [p.name for p in cached] == ["dataset-fashion-mnist_9.9-1_all.deb"]  # no temporary folder left
    assert any("apt-get download" in line for line in logs)
    (root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    (tmp_path / "failing").mkdir()
    fake_apt_get(tmp_path / "failing", monkeypatch, None)  # apt-get fails now ...
    prepare_dataset("fashion-mnist", root, log=lambda *_: None)  # ... and the cached .deb is used
    assert raw_files(root) == sorted(synthetic_hashes)


def test_files_failing_their_hashes_write_nothing(tmp_path, offline, monkeypatch):
    deb = tmp_path / "wrong.deb"
    deb.write_bytes(fake_deb(synthetic_idx()))  # well-formed, but not the official files
    monkeypatch.setenv(fashion_deb.DEB_ENV, str(deb))
    root = tmp_path / "root"
    with pytest.raises(DataError, match="fails SHA-256 verification.*nothing was written") as exc:
        prepare_dataset("fashion-mnist", root, log=lambda *_: None)
    assert "\n" not in str(exc.value)
    assert raw_files(root) == []


@pytest.mark.parametrize("corrupt", ["truncated", "not_xz", "bad_gzip"])
def test_a_corrupt_deb_is_one_line_error_and_writes_nothing(tmp_path, offline, synthetic_hashes, monkeypatch,
                                                            corrupt):
    good = fake_deb(synthetic_hashes)
    if corrupt == "truncated":
        blob = good[: len(good) // 2]
    elif corrupt == "not_xz":
        blob = ar_archive({"debian-binary": b"2.0\n", "data.tar.xz": b"\xfd7zXZ\x00" + b"\x00" * 200})
    else:
        files = {f"{DEB_DIR}{name}.gz": b"\x1f\x8b\x08\x00broken" for name in synthetic_hashes}
        blob = ar_archive({"debian-binary": b"2.0\n", "data.tar.xz": tar_bytes(files, "w:xz")})
    deb = tmp_path / "corrupt.deb"
    deb.write_bytes(blob)
    monkeypatch.setenv(fashion_deb.DEB_ENV, str(deb))
    root = tmp_path / "root"
    with pytest.raises(DataError) as exc:
        prepare_dataset("fashion-mnist", root, log=lambda *_: None)
    assert "\n" not in str(exc.value) and "corrupt" in str(exc.value)
    assert raw_files(root) == []


def test_neither_source_names_both(tmp_path, offline, monkeypatch):
    fake_apt_get(tmp_path, monkeypatch, None)
    root = tmp_path / "root"
    res = run_cli("data", "prepare", "--dataset", "fashion-mnist", "--root", root)
    assert res.exit_code == 2 and "Traceback" not in res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error:")]  # after the progress lines
    assert len(errors) == 1 and res.stderr.strip().splitlines()[-1] == errors[0]
    assert ("torchvision's mirrors are unreachable and `apt-get download dataset-fashion-mnist` failed "
            "(E: Unable to locate package dataset-fashion-mnist)") in errors[0]
    assert fashion_deb.DEB_ENV in errors[0]
    assert raw_files(root) == [] and list((root / ".downloads").iterdir()) == []


def test_a_missing_env_deb_is_one_line_error(tmp_path, offline, monkeypatch):
    monkeypatch.setenv(fashion_deb.DEB_ENV, str(tmp_path / "nowhere.deb"))
    with pytest.raises(DataError, match="does not name a file"):
        prepare_dataset("fashion-mnist", tmp_path / "root", log=lambda *_: None)


def test_unknown_dataset_in_the_library():
    for call in (lambda: prepare_dataset("bogus"), lambda: load_dataset("bogus"), lambda: provision.holds_verified("x", "/"),
                 lambda: TrainConfig(dataset="bogus").validate()):
        with pytest.raises(UnknownDatasetError, match="unknown dataset .*known: mnist, fashion-mnist"):
            call()


# ------------------------------------------------------------------------------------------ --dataset


@pytest.mark.parametrize("command", [
    ["data", "prepare", "--root", "{out}"],
    ["train", "--out", "{out}", "--epochs", "1"],
    ["study", "--out", "{out}", "--epochs", "1"],
    ["sweep", "--out", "{out}", "--epochs", "1"],
    ["classifier", "train", "--out", "{out}"],
    ["classifier", "evaluate", "--data-root", "{out}"],
])
def test_an_unknown_dataset_is_refused_by_every_command(tmp_path, command):
    out = tmp_path / "out"
    res = run_cli(*[str(out) if a == "{out}" else a for a in command], "--dataset", "bogus")
    assert_one_line_error(res, "'bogus' is not one of 'mnist', 'fashion-mnist'")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_train_records_the_dataset_and_resume_keeps_it(tmp_path, monkeypatch):
    from vaediag import train as train_mod

    loaded = []
    monkeypatch.setattr(train_mod, "load_dataset", lambda dataset, *a, **k: loaded.append(dataset) or synthetic_digits())
    run = tmp_path / "run"
    res = run_cli("train", "--out", run, "--dataset", "fashion-mnist", "--epochs", 1, "--batch-size", 64,
                  "--device", "cpu", "--latent-dim", 2)
    assert res.exit_code == 0, res.output
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == "fashion-mnist" and config["train"]["dataset"] == "fashion-mnist"
    assert loaded == ["fashion-mnist"] and Run(run).dataset == "fashion-mnist"
    assert Run(run).classes.name(0) == "T-shirt/top"
    res = run_cli("train", "--out", run, "--resume", "--epochs", 2)  # the saved dataset, not the default
    assert res.exit_code == 0, res.output
    assert loaded == ["fashion-mnist", "fashion-mnist"]
    res = run_cli("train", "--out", run, "--resume", "--epochs", 3, "--dataset", "mnist")
    assert_one_line_error(res, "--dataset fashion-mnist (not mnist)")


def test_older_configs_without_a_dataset_are_mnist(tmp_path):
    saved = TrainConfig(epochs=2).to_dict()
    del saved["dataset"]
    assert continued(saved, {}).dataset == "mnist"
    with pytest.raises(ConfigError, match="--dataset mnist"):
        continued(saved, {"dataset": "fashion-mnist"})
    run = tmp_path / "old"
    train(TrainConfig(model="mlp", epochs=1, batch_size=64, device="cpu"), run, data=synthetic_digits(),
          progress=False, log=lambda *_: None)
    r = Run(run)
    r.write_config({k: v for k, v in r.config.items() if k != "dataset"}
                   | {"train": {k: v for k, v in r.config["train"].items() if k != "dataset"}})
    assert Run(run).dataset == "mnist"


def test_the_sweep_records_its_dataset_as_a_shared_setting(tmp_path):
    from vaediag.sweep.grid import Grid
    from vaediag.store.sweepdir import Sweep

    grid = Grid.from_options(TrainConfig(epochs=1, dataset="fashion-mnist"), seed="0,1")
    assert grid.base_dict()["dataset"] == "fashion-mnist" and "dataset" not in grid.axes
    assert all(p.config.dataset == "fashion-mnist" for p in grid.points())
    sweep = Sweep(tmp_path / "sweep")
    state = sweep.prepare(Grid.from_options(TrainConfig(epochs=1), seed="0"), {}, {})
    del state["base"]["dataset"]  # a sweep.json of vaediag < 0.4
    sweep.write(state)
    sweep.prepare(Grid.from_options(TrainConfig(epochs=1), seed="0,1"), {}, {})  # still an MNIST sweep
    with pytest.raises(ConfigError, match="dataset 'mnist' \\(not 'fashion-mnist'\\)"):
        sweep.prepare(grid, {}, {})


# ------------------------------------------------------------------------------------------ end to end


@pytest.mark.mnist
def test_study_on_fashion_mnist_end_to_end(tmp_path, fashion_root):
    """`vaediag study --dataset fashion-mnist` on a small subset: trains, evaluates with the Fashion-MNIST
    classifier (shipped as vaediag/weights/fashion_cnn.*), writes the report. Locally it skips while those
    weights are not shipped; in CI (CI=true) that is a failure."""
    from vaediag.datasets import classifier as clf
    from vaediag.files.fileio import read_json

    weights, _ = clf.CLASSIFIER_FILES["fashion-mnist"]
    if not (clf.WEIGHTS_DIR / weights).is_file():
        why = f"the Fashion-MNIST classifier {clf.WEIGHTS_DIR / weights} is not shipped"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    run = tmp_path / "run"
    res = run_cli("study", "--out", run, "--dataset", "fashion-mnist", "--train-size", 600, "--test-size", 200,
                  "--epochs", 2, "--checkpoints", "1,2", "--device", "cpu", "--samples", 500, "--grid", 6,
                  "--data-root", fashion_root)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(run / "report.html") and (run / "report.md").is_file()
    config = read_json(run / "config.json")
    assert config["dataset"] == "fashion-mnist" and config["n_train"] == 600 and config["n_test"] == 200
    evaluated = Run(run)
    assert evaluated.dataset == "fashion-mnist" and evaluated.epochs == [1, 2]
    # the run was judged by the Fashion-MNIST classifier, not the digit one
    from vaediag.evaluate.reference import sha256_tensors

    def fingerprint(dataset):
        return sha256_tensors(sorted(clf.load_classifier(dataset=dataset).state_dict().items()))

    assert evaluated.evaluation.settings["classifier_sha256"] == fingerprint("fashion-mnist") != fingerprint("mnist")
    assert set(evaluated.metrics.index) >= {1, 2}


def test_folders_left_by_killed_provisionings_are_removed_live_ones_kept(tmp_path, offline, synthetic_hashes,
                                                                          monkeypatch):
    """A SIGKILLed `data prepare` leaves its download folder (a whole .deb inside ".apt-<pid>-..."): the next
    provisioning removes the dead process's folders, never a live process's, nor other files."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)  # a process that has ended
    root = tmp_path / "root"
    left = [root / f".staging-{dead_pid}-abc", root / ".downloads" / f".apt-{dead_pid}-xyz",
            root / ".downloads" / f".pip-{dead_pid}-q1"]
    live = root / ".downloads" / f".apt-{os.getpid()}-live"
    other = root / ".downloads" / ".apt-notes"
    for folder in [*left, live, other]:
        folder.mkdir(parents=True)
        (folder / "dataset-fashion-mnist_9.9-1_all.deb").write_bytes(b"half")
    deb = tmp_path / "local.deb"
    deb.write_bytes(fake_deb(synthetic_hashes))
    monkeypatch.setenv(fashion_deb.DEB_ENV, str(deb))
    prepare_dataset("fashion-mnist", root, log=lambda *_: None)
    assert raw_files(root) == sorted(synthetic_hashes)
    assert not any(p.exists() for p in left) and live.is_dir() and other.is_dir()
