"""Nothing is written outside a run, and nothing a user's file holds acts on a reader: lock files and a sweep's
log files that are links, Fashion-MNIST packages that claim gigabytes, a corrupt cached package, claim texts with
Markdown / HTML / terminal escape sequences, and torch's advice to load an untrusted file with
``weights_only=False``."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from vaediag.cli import cli
from vaediag.claims.formats import format_claims
from vaediag.claims.schema import ClaimsError, parse_claims
from vaediag.datasets import fashion_deb, registry
from vaediag.datasets.deb import read_deb_files
from vaediag.datasets.provision import prepare_dataset
from vaediag.errors import CheckpointError, DataError, RunDirError
from vaediag.files.fileio import append_text
from vaediag.store.rundir import LOCK_FILE, Run
from vaediag.store.sweepdir import LOCK_FILE as SWEEP_LOCK, Sweep

from helpers import assert_one_line_error
from test_datasets import DEB_DIR, ar_archive, fake_deb, offline, raw_files, synthetic_hashes  # noqa: F401


# ------------------------------------------------------------------------------------------- lock files
@pytest.fixture
def elsewhere(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    return target


@pytest.mark.parametrize("how", ["symlink", "hardlink"])
def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, elsewhere, how):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (os.symlink if how == "symlink" else os.link)(elsewhere, run / LOCK_FILE)
    res = CliRunner().invoke(cli, ["evaluate", str(run)])
    assert_one_line_error(res, f"its lock file {LOCK_FILE} is a {'symbolic' if how == 'symlink' else 'hard'} link")
    assert elsewhere.read_text() == "precious\n"
    with pytest.raises(RunDirError, match="vaediag writes nothing outside the folder"):
        with Run(run).lock("report"):
            pass
    assert elsewhere.read_text() == "precious\n"


def test_a_lock_file_that_is_a_fifo_does_not_hang(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    os.mkfifo(run / LOCK_FILE)
    with pytest.raises(RunDirError, match="is not a plain file"):
        with Run(run).lock("evaluate"):
            pass


def test_a_sweep_lock_that_is_a_symlink_is_refused(tmp_path, elsewhere):
    out = tmp_path / "sweep"
    out.mkdir()
    os.symlink(elsewhere, out / SWEEP_LOCK)
    res = CliRunner().invoke(cli, ["sweep", "--out", str(out), "--seeds", "0", "--epochs", "1"])
    assert_one_line_error(res, f"its lock file {SWEEP_LOCK} is a symbolic link")
    assert elsewhere.read_text() == "precious\n" and not (out / "sweep.json").exists()


def test_append_text_never_writes_through_a_link(tmp_path, elsewhere):
    log = tmp_path / "run.log"
    append_text(log, "one\n")
    append_text(log, "two\n")
    assert log.read_text() == "one\ntwo\n"
    link = tmp_path / "link.log"
    os.symlink(elsewhere, link)
    with pytest.raises(OSError):
        append_text(link, "evil\n")
    os.link(elsewhere, tmp_path / "hard.log")
    with pytest.raises(OSError, match="not a plain file"):
        append_text(tmp_path / "hard.log", "evil\n")
    assert elsewhere.read_text() == "precious\n"


def test_a_sweeps_log_and_attempts_files_are_never_followed(tmp_path, elsewhere):
    sweep = Sweep(tmp_path / "sweep")
    name = "mlp_z2_beta1_seed0"
    sweep.log_path(name).parent.mkdir(parents=True)
    os.symlink(elsewhere, sweep.log_path(name))
    with pytest.raises(RunDirError, match=rf"{name}.log is a link or not a plain file"):
        sweep.check_contained([name])
    sweep.logger(name)("a line")  # the task's own writer refuses too (a line is never worth a run)
    sweep.log_path(name).unlink()
    os.symlink(elsewhere, sweep.attempts_path(name))
    with pytest.raises(RunDirError, match=rf"{name}.attempts is a link"):
        sweep.check_contained([name])
    with pytest.raises(OSError):
        sweep.record_attempt(name, "x")
    assert elsewhere.read_text() == "precious\n"
    sweep.attempts_path(name).unlink()
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", sweep.runs_dir)
    with pytest.raises(RunDirError, match="runs is a symbolic link; a sweep writes only inside SWEEP_DIR"):
        sweep.check_contained([name])


# ------------------------------------------------------------------------------------------- Fashion-MNIST .deb
def _tar_with_claimed_size(path: str, claimed: int) -> bytes:
    """A tar whose header for ``path`` claims ``claimed`` bytes but holds a few (a forged package: reading the
    member would try to allocate them)."""
    info = tarfile.TarInfo(path)
    info.size = claimed
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    return header + b"\x00" * 512 * 4


def test_a_member_claiming_gigabytes_is_refused_from_its_header():
    path = f"{DEB_DIR}t10k-labels-idx1-ubyte.gz"
    import lzma

    blob = ar_archive({"debian-binary": b"2.0\n", "data.tar.xz": lzma.compress(_tar_with_claimed_size(path, 2**31))})
    with pytest.raises(DataError, match=r"claims 2147483648 bytes, more than the \d+ it can have"):
        read_deb_files(blob, {path: 10_008 + fashion_deb.GZIP_SLACK})


def test_a_gzip_member_is_never_decompressed_past_the_official_size(tmp_path, offline, monkeypatch):  # noqa: F811
    bomb = gzip.compress(b"\x00" * (fashion_deb.IDX_BYTES["t10k-labels-idx1-ubyte"] + 1))
    files = {f"{DEB_DIR}{name}.gz": gzip.compress(b"x") for name in registry.FASHION_MNIST_SHA256}
    files[f"{DEB_DIR}t10k-labels-idx1-ubyte.gz"] = bomb
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    deb = tmp_path / "bomb.deb"
    deb.write_bytes(ar_archive({"debian-binary": b"2.0\n", "data.tar.xz": buffer.getvalue()}))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz decompresses to more than the 10008 bytes"):
        fashion_deb.idx_files_from_deb(deb)
    monkeypatch.setenv(fashion_deb.DEB_ENV, str(deb))
    with pytest.raises(DataError):
        prepare_dataset("fashion-mnist", tmp_path / "root", log=lambda *_: None)
    assert raw_files(tmp_path / "root") == []


def test_a_deb_file_larger_than_any_dataset_package_is_refused(tmp_path, monkeypatch):
    from vaediag.datasets import deb as deb_module

    monkeypatch.setattr(deb_module, "MAX_DEB_BYTES", 100)
    big = tmp_path / "big.deb"
    big.write_bytes(b"!<arch>\n" + b"\x00" * 200)
    with pytest.raises(DataError, match="has 208 bytes, more than a dataset package"):
        read_deb_files(big, ["x"])


def test_a_corrupt_cached_deb_is_replaced_once(tmp_path, offline, synthetic_hashes, monkeypatch):  # noqa: F811
    from test_datasets import fake_apt_get

    root = tmp_path / "root"
    downloads = root / ".downloads"
    downloads.mkdir(parents=True)
    cached = downloads / "dataset-fashion-mnist_1.0-1_all.deb"
    cached.write_bytes(fake_deb(synthetic_hashes)[:5000])  # a download cut short
    fake_apt_get(tmp_path, monkeypatch, fake_deb(synthetic_hashes))
    logs = []
    prepare_dataset("fashion-mnist", root, log=logs.append)
    assert raw_files(root) == sorted(synthetic_hashes)
    assert not cached.exists() and [p.name for p in downloads.iterdir()] == ["dataset-fashion-mnist_9.9-1_all.deb"]
    assert any("the cached dataset-fashion-mnist_1.0-1_all.deb is unusable" in line for line in logs)


def test_a_users_own_deb_is_never_removed(tmp_path, offline, synthetic_hashes, monkeypatch):  # noqa: F811
    own = tmp_path / "mine.deb"
    own.write_bytes(fake_deb(synthetic_hashes)[:5000])
    monkeypatch.setenv(fashion_deb.DEB_ENV, str(own))
    with pytest.raises(DataError):
        prepare_dataset("fashion-mnist", tmp_path / "root", log=lambda *_: None)
    assert own.exists()


# ------------------------------------------------------------------------------------------- claims as text
EVIL_TEXT = "4 and 9 <img src=x onerror=alert(1)> <script>alert(2)</script> [x](javascript:alert(3)) a|b"


def _table(text: str, claim_id: str) -> pd.DataFrame:
    return pd.DataFrame([{"claim": 1, "id": claim_id, "text": text, "kind": "overlap", "epochs": "5",
                          "verdict": "supported", "measured": "m", "rule": "r", "explanation": "e", "n": 1,
                          "evidence": {}}])


def test_check_md_escapes_html_links_and_pipes_in_text_and_id():
    """Rendered by a CommonMark renderer with GFM tables (markdown-it-py): no tag, no link, one row of 9 cells."""
    markdown_it = pytest.importorskip("markdown_it")
    md = format_claims(_table(EVIL_TEXT, "id|<b>x</b>"), "md")
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    assert "<img" not in html and "<script" not in html and "<b>" not in html and "href=" not in html
    assert html.count("<td>") == 9 and html.count("<tr>") == 2
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html and "[x](javascript:alert(3)) a|b" in html
    assert "1 (id|&lt;b&gt;x&lt;/b&gt;)" in html


def test_claims_with_control_characters_are_refused_in_one_line():
    title = "\x1b]0;pwned\x07 4 and 9 overlap"
    for field in ("text", "id"):
        claim = {"text": "4 and 9 overlap", "kind": "overlap", "epoch": 5, "digits": [4, 9]}
        claim[field] = title
        with pytest.raises(ClaimsError, match=rf"field '{field}': holds the control character U\+001B") as info:
            parse_claims([claim])
        assert "\x1b" not in str(info.value) and "\x07" not in str(info.value)
    with pytest.raises(ClaimsError, match=r"U\+202E"):  # a bidirectional override reorders what a reader sees
        parse_claims([{"text": "4 and 9 \u202eoverlap", "kind": "overlap", "epoch": 5, "digits": [4, 9]}])


def test_the_terminal_table_writes_control_characters_out():
    text = format_claims(_table("a \x1b]0;title\x07 b", "\x1b[31mred"), "table", width=200)
    assert "\x1b" not in text and "\x07" not in text and "\\x1b]0;title\\x07" in text


def test_check_refuses_a_claims_file_with_an_escape_sequence(tmp_path):
    claims = tmp_path / "claims.toml"
    claims.write_text('[[claim]]\ntext = "\\u001b]0;pwned\\u0007 overlap"\nkind = "overlap"\nepoch = 5\n'
                      'digits = [4, 9]\n')
    res = CliRunner().invoke(cli, ["check", str(claims), str(tmp_path)])
    assert_one_line_error(res, "holds the control character U+001B")
    assert "\x1b" not in res.output


# ------------------------------------------------------------------------------------------- torch's advice
class Payload:
    def __reduce__(self):
        return (print, ("this ran",))


def _assert_no_advice(message: str) -> None:
    assert "weights_only=False" not in message and "weights_only` set to `False" not in message
    assert "trust" not in message and "\x1b" not in message and "\n" not in message


def test_a_malicious_weights_file_gets_no_weights_only_advice(tmp_path):
    from vaediag.models.factory import read_state_dict

    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": Payload()}, evil)
    with pytest.raises(CheckpointError) as info:
        read_state_dict(evil)
    _assert_no_advice(str(info.value))
    torch.save({"w": torch.zeros(1), "x": [Payload()]}, evil)
    with pytest.raises(CheckpointError) as info:
        read_state_dict(evil)
    _assert_no_advice(str(info.value))


def test_a_malicious_classifier_file_gets_no_weights_only_advice(tmp_path):
    from vaediag.datasets.classifier import CLASSIFIER_FILES, load_classifier

    weights_file, info_file = CLASSIFIER_FILES["mnist"]
    evil = tmp_path / weights_file
    torch.save({"format": "x", "p": Payload()}, evil)
    sha = hashlib.sha256(evil.read_bytes()).hexdigest()
    (tmp_path / info_file).write_text(json.dumps({"sha256": sha, "dataset": "mnist"}))
    with pytest.raises(CheckpointError) as info:
        load_classifier("cpu", weights_dir=tmp_path, dataset="mnist")
    _assert_no_advice(str(info.value))
    assert "it refers to print, which a weights file may not hold" in str(info.value)


def test_a_sweep_refuses_a_pending_runs_log_linked_elsewhere(tmp_path, elsewhere):
    """The attack: a pending run in sweep.json, its logs/<run>.log a link elsewhere, the sweep run again. It is
    refused in one line before Ray starts; the link's target is untouched."""
    from vaediag.evaluate.settings import EvalSettings
    from vaediag.models.train_config import TrainConfig
    from vaediag.sweep.grid import Grid
    from vaediag.versions import versions

    out = Sweep(tmp_path / "sweep")
    grid = Grid.from_options(TrainConfig(epochs=1, checkpoints=(1,), device="cpu"), seed="0")
    out.path.mkdir()
    out.write(out.prepare(grid, EvalSettings().to_dict(), versions()))
    name = grid.points()[0].name
    out.log_path(name).parent.mkdir()
    os.symlink(elsewhere, out.log_path(name))
    res = CliRunner().invoke(cli, ["sweep", "--out", str(out.path), "--seeds", "0", "--epochs", "1",
                                   "--device", "cpu"])
    assert_one_line_error(res, f"{name}.log is a link or not a plain file")
    assert elsewhere.read_text() == "precious\n"
