"""`vaediag sweep` on real Ray and real MNIST: a local instance, a SIGKILLed driver resumed, a failing run
retried and recorded, and a cluster started with `ray start --head` joined with --address.

Every sweep runs as a subprocess (`python -m vaediag sweep ...`), like a user's. About 2 minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from vaediag import columns as C
from vaediag.models.checkpoint import read_state
from vaediag.sweep import Sweep
from vaediag.store.sweepdir import DONE, FAILED, LOCK_FILE

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--epochs", "2", "--checkpoints", "1,2", "--train-size", "1000", "--test-size", "500", "--samples", "500",
         "--grid", "5", "--device", "cpu", "--cpus-per-run", "1"]
GRID = ["--model", "mlp", "--seeds", "0,1,2", "--latent-dim", "2,8"]
NAMES = [f"mlp_z{z}_beta1_seed{s}" for z in (2, 8) for s in (0, 1, 2)]
HISTORY = [c for c in C.HISTORY_COLUMNS[1:] if c != C.EPOCH_SECONDS]
RAY = str(Path(sys.executable).with_name("ray"))
# A sweep takes about a minute alone on 2 idle cores; under `pytest -n 2` it shares them with the other worker
# (and on a shared machine with whatever else runs): the bound is for a hang, not a speed check.
SWEEP_TIMEOUT_S = 900

pytestmark = pytest.mark.mnist


def _env() -> dict:
    return dict(os.environ, PYTHONUNBUFFERED="1",
                PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


def _sweep(out: Path, mnist_root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vaediag", "sweep", "--out", str(out), *args, *SMALL,
                           "--data-root", str(mnist_root)], env=_env(), capture_output=True, text=True,
                          timeout=SWEEP_TIMEOUT_S)


@pytest.fixture(scope="module")
def full_sweep(tmp_path_factory, mnist_root):
    out = tmp_path_factory.mktemp("sweep") / "full"
    res = _sweep(out, mnist_root, *GRID)
    assert res.returncode == 0, res.stderr
    return out, res


def test_sweep_runs_every_point_on_local_ray(full_sweep):
    out, res = full_sweep
    sweep = Sweep(out)
    assert res.stdout.strip() == str(sweep.report_html_path)
    state = sweep.read()
    assert sorted(state["runs"]) == sorted(NAMES)
    assert {e["status"] for e in state["runs"].values()} == {DONE}
    assert all(e["attempts"] == 1 and e["wall_seconds"] > 0 and e["error"] is None for e in state["runs"].values())
    assert state["ray"]["address"] == "local" and state["ray"]["cpus_per_run"] == 1
    assert state["grid"]["seed"] == [0, 1, 2] and state["grid"]["latent_dim"] == [2, 8]
    assert state["base"] == {"epochs": 2, "checkpoints": [1, 2], "train_size": 1000, "test_size": 500,
                             "dataset": "mnist"}
    for name in NAMES:  # each an ordinary, evaluated RUN_DIR with its report
        run = sweep.run(name)
        assert run.evaluation_problem() is None and run.read_evaluation().epochs == [1, 2]
        assert run.report_html_path.is_file()
        assert run.read_config()["train"]["seed"] == state["runs"][name]["settings"]["seed"]
        assert run.latent_dim == state["runs"][name]["settings"]["latent_dim"]
    for path in (sweep.report_html_path, sweep.report_md_path, sweep.summary_path):
        assert path.is_file()
    assert "[6/6] done" in res.stderr and "report: " in res.stderr.splitlines()[-1]
    assert not (out / LOCK_FILE).exists() and not list(out.rglob("*.tmp"))


def test_rerun_skips_completed_runs(full_sweep, mnist_root):
    out, _ = full_sweep
    before = {n: Sweep(out).run(n).history_path.stat().st_mtime_ns for n in NAMES}
    res = _sweep(out, mnist_root, *GRID)
    assert res.returncode == 0 and "6 already done, 0 to run" in res.stderr, res.stderr
    assert before == {n: Sweep(out).run(n).history_path.stat().st_mtime_ns for n in NAMES}


def _snapshot(path: Path) -> dict:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in path.rglob("*") if p.is_file()}


def test_killed_driver_resumes_to_the_uninterrupted_result(full_sweep, tmp_path, mnist_root):
    baseline, cut = Sweep(full_sweep[0]), Sweep(tmp_path / "cut")
    cmd = [sys.executable, "-m", "vaediag", "sweep", "--out", str(cut.path), *GRID, *SMALL,
           "--data-root", str(mnist_root)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not list(cut.runs_dir.glob("*/checkpoints/epoch_001.pt")):  # a first checkpoint exists
            assert time.monotonic() < deadline and proc.poll() is None, "the sweep never wrote a checkpoint"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # no orphaned Ray worker keeps writing: Ray's processes share the driver's fate
        time.sleep(1.0)
        first = _snapshot(cut.path)
        time.sleep(3.0)
        assert _snapshot(cut.path) == first
        done = [n for n, e in cut.read()["runs"].items() if e["status"] == DONE]
        assert len(done) < len(NAMES)  # killed mid-way
    finally:
        try:  # Ray's dashboard/runtime-env agents idle on in the driver's session: end them
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    res = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=SWEEP_TIMEOUT_S)
    assert res.returncode == 0, res.stderr
    assert {e["status"] for e in cut.read()["runs"].values()} == {DONE}
    for name in NAMES:
        run, ref = cut.run(name), baseline.run(name)
        pd.testing.assert_frame_equal(run.read_history()[HISTORY], ref.read_history()[HISTORY], check_exact=True)
        for epoch in (1, 2):
            a = read_state(run.checkpoint_path(epoch))["model_state"]
            b = read_state(ref.checkpoint_path(epoch))["model_state"]
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), (name, epoch)


# ------------------------------------------------------------------ a cluster started with `ray start --head`
def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """`ray start --head --block` in its own session with its own ports and temp dir; killed (its process group,
    then its raylet's fate-sharing children) at the end, so no other Ray instance on the machine is touched."""
    temp = Path("/tmp") / f"vaediag-ray-{os.getpid()}"  # Ray's socket paths must stay short
    gcs, agent, agent_grpc, metrics, runtime_env = _free_ports(5)
    proc = subprocess.Popen(
        [RAY, "start", "--head", "--block", f"--port={gcs}",
         f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={agent_grpc}",
         f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={runtime_env}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    address = f"127.0.0.1:{gcs}"
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", gcs)) == 0:
                break
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.2)
    yield address
    proc.terminate()  # `ray start --block` stops the processes it started on SIGTERM
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.stderr.close()
    subprocess.run(["rm", "-rf", str(temp)], check=False)


@pytest.fixture(scope="module")
def failing_sweep(ray_cluster, tmp_path_factory, mnist_root):
    """Two runs on the joined cluster; lr 1e30 makes training diverge at its first epoch, every attempt."""
    out = tmp_path_factory.mktemp("sweep") / "failing"
    res = _sweep(out, mnist_root, "--seeds", "0", "--lr", "0.001,1e30", "--max-retries", "2",
                 "--address", ray_cluster)
    return out, res


def test_sweep_joins_an_existing_cluster(failing_sweep, ray_cluster):
    out, res = failing_sweep
    state = Sweep(out).read()
    assert state["ray"]["address"] == ray_cluster and state["ray"]["gcs_address"].endswith(ray_cluster.split(":")[1])
    assert "Ray joined" in res.stderr


def test_failing_run_is_retried_then_recorded_while_the_rest_completes(failing_sweep):
    out, res = failing_sweep
    assert res.returncode == 1, res.stderr
    runs = Sweep(out).read()["runs"]
    good, bad = runs["mlp_z2_beta1_seed0"], runs["mlp_z2_beta1_lr1e30_seed0"]
    assert good["status"] == DONE and good["attempts"] == 1
    assert bad["status"] == FAILED and bad["attempts"] == 3  # max_retries + 1
    assert bad["error"].startswith("TrainingDivergedError: loss became nan at epoch 1") and "\n" not in bad["error"]
    assert Sweep(out).run("mlp_z2_beta1_seed0").report_html_path.is_file()
    assert Sweep(out).report_html_path.is_file()  # the report covers the runs that are done
    assert f"FAILED mlp_z2_beta1_lr1e30_seed0 after 3 attempts: {bad['error']}" in res.stderr
    assert "1 of 2 runs done, 1 failed (mlp_z2_beta1_lr1e30_seed0)" in res.stderr


def test_study_seeds_is_a_one_configuration_sweep_with_the_replicated_report(tmp_path, mnist_root):
    out = tmp_path / "replicated"
    small = [a for a in SMALL if a not in ("--cpus-per-run", "1")]
    res = subprocess.run([sys.executable, "-m", "vaediag", "study", "--out", str(out), "--seeds", "0,1", *small,
                          "--data-root", str(mnist_root)], env=_env(), capture_output=True, text=True,
                          timeout=SWEEP_TIMEOUT_S)
    assert res.returncode == 0, res.stderr
    sweep = Sweep(out)
    state = sweep.read()
    assert sorted(state["runs"]) == ["mlp_z2_beta1_seed0", "mlp_z2_beta1_seed1"]
    assert {e["status"] for e in state["runs"].values()} == {DONE}
    summary = pd.read_csv(sweep.summary_path)
    knn = summary[(summary["metric"] == C.KNN_ACCURACY) & (summary["epoch"] == 2)].iloc[0]
    values = [sweep.run(n).read_evaluation().metrics.loc[2, C.KNN_ACCURACY] for n in sorted(state["runs"])]
    assert knn["n"] == 2 and knn["mean"] == pytest.approx(sum(values) / 2)
    assert knn["ci_low"] <= knn["mean"] <= knn["ci_high"]
    html = sweep.report_html_path.read_text(encoding="utf-8")
    assert "2 seeds" in html and "runs/mlp_z2_beta1_seed1/report.html" in html
