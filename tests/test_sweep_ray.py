"""`vaediag sweep` on real Ray and real MNIST: a local instance of the sweep's own (one worker process per run,
nothing left behind), a driver stopped with SIGTERM and one SIGKILLed (its Ray helpers reaped, runs that never
started still "pending") then resumed bit-identically; a cluster started with `ray start --head` joined with
--address (and with `auto`), a failure that recurs recorded at once, a killed worker retried and timed over both
attempts, a per-run timeout, refused addresses and resources, two drivers racing on one empty folder.

Every sweep runs as a subprocess (`python -m vaediag sweep ...`), like a user's. A few minutes on 2 cores.
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


def _sweep(out: Path, mnist_root, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The sweep as a subprocess in a session of its own; afterwards no process of that session is left."""
    proc = subprocess.Popen([sys.executable, "-m", "vaediag", "sweep", "--out", str(out), *args, *SMALL,
                             "--data-root", str(mnist_root)], env=env or _env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    stdout, stderr = proc.communicate(timeout=SWEEP_TIMEOUT_S)
    assert _left_in_session(proc.pid) == [], "the sweep left processes behind"
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _session_processes(sid: int) -> list[int]:
    """PIDs of the processes whose session is ``sid`` (/proc/PID/stat, field 6)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry))
    return found


def _left_in_session(sid: int, wait: float = 30.0) -> list[str]:
    """The processes of session ``sid`` still alive after up to ``wait`` seconds (the reaper's time), each as
    "PID command line (marked: whether it carries a sweep's reaper token)"."""
    deadline = time.monotonic() + wait
    while _session_processes(sid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = []
    for pid in _session_processes(sid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:150]
            marked = b"VAEDIAG_RAY_SESSION=" in Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        left.append(f"{pid} {cmd} (marked: {marked})")
    return left


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
    pids = [json.loads(line)["pid"] for name in NAMES for line in sweep.attempts_path(name).read_text().splitlines()]
    assert len(pids) == len(set(pids)) == 6  # a fresh worker process per run: no state carries over
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


def _start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for_checkpoints(cut: Sweep, proc: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + 180
    while len(list(cut.runs_dir.glob("*/checkpoints/epoch_*.pt"))) < count:
        assert time.monotonic() < deadline and proc.poll() is None, "the sweep wrote no new checkpoint"
        time.sleep(0.05)


def test_stopped_and_killed_drivers_resume_to_the_uninterrupted_result(full_sweep, tmp_path, mnist_root):
    """SIGTERM: the sweep stops like Ctrl-C (exit 130, one line, no run left "running", nothing of its Ray instance
    left). SIGKILL: its Ray helpers are reaped, no run keeps writing, runs that never started are still "pending".
    The same command then finishes the sweep bit-identical to the uninterrupted one."""
    baseline, cut = Sweep(full_sweep[0]), Sweep(tmp_path / "cut")
    cmd = [sys.executable, "-m", "vaediag", "sweep", "--out", str(cut.path), *GRID, *SMALL,
           "--data-root", str(mnist_root)]
    proc = _start(cmd)
    _wait_for_checkpoints(cut, proc, 1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("Interrupted (stopped by SIGTERM): the sweep stopped")
    assert _left_in_session(proc.pid) == []
    assert "running" not in {e["status"] for e in cut.read()["runs"].values()}

    proc = _start(cmd)
    try:
        _wait_for_checkpoints(cut, proc, len(list(cut.runs_dir.glob("*/checkpoints/epoch_*.pt"))) + 1)
        auto = subprocess.run([sys.executable, "-m", "vaediag", "sweep", "--out", str(tmp_path / "other"), *GRID,
                               *SMALL, "--address", "auto"], env=dict(_env(), RAY_TMPDIR=str(tmp_path / "no-ray")),
                              capture_output=True, text=True, timeout=120)
        assert auto.returncode == 2 and "--address auto: no cluster started with `ray start`" in auto.stderr
        assert not (tmp_path / "other").exists()  # never another driver's local instance
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _left_in_session(proc.pid) == []  # the reaper ended what Ray leaves behind
        first = _snapshot(cut.path)
        time.sleep(3.0)
        assert _snapshot(cut.path) == first  # no orphaned worker keeps writing
        runs = cut.read()["runs"]
        assert sum(e["status"] == DONE for e in runs.values()) < len(NAMES)  # killed mid-way
        never = [n for n in NAMES if not cut.attempts_path(n).exists()]
        assert never and all(runs[n]["status"] == "pending" for n in never)  # not "running": they never started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stderr.close()
    res = _sweep(cut.path, mnist_root, *GRID)
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


def test_a_failure_that_recurs_is_recorded_at_once_while_the_rest_completes(failing_sweep):
    out, res = failing_sweep
    assert res.returncode == 1, res.stderr
    runs = Sweep(out).read()["runs"]
    good, bad = runs["mlp_z2_beta1_seed0"], runs["mlp_z2_beta1_lr1e30_seed0"]
    assert good["status"] == DONE and good["attempts"] == 1
    assert bad["status"] == FAILED and bad["attempts"] == 1  # a divergence recurs: not retried
    assert bad["error"].startswith("TrainingDivergedError: loss became nan at epoch 1") and "\n" not in bad["error"]
    assert "not retried" in Sweep(out).log_path("mlp_z2_beta1_lr1e30_seed0").read_text()
    assert Sweep(out).run("mlp_z2_beta1_seed0").report_html_path.is_file()
    assert Sweep(out).report_html_path.is_file()  # the report covers the runs that are done
    assert f"FAILED mlp_z2_beta1_lr1e30_seed0 after 1 attempt(s): {bad['error']}" in res.stderr
    assert "1 of 2 runs done, 1 failed (mlp_z2_beta1_lr1e30_seed0)" in res.stderr


TINY = ["--epochs", "1", "--checkpoints", "1", "--train-size", "300", "--test-size", "200", "--samples", "200",
        "--grid", "4", "--iwae", "0", "--device", "cpu", "--cpus-per-run", "1"]


def _tiny(out: Path, mnist_root, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vaediag", "sweep", "--out", str(out), "--seeds", "0", *TINY,
                             *args, "--data-root", str(mnist_root)], env=env or _env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_killed_worker_is_retried_and_timed_over_both_attempts(ray_cluster, tmp_path, mnist_root):
    out = Sweep(tmp_path / "worker")
    name = "mlp_z2_beta1_seed0"
    proc = _tiny(out.path, mnist_root, "--address", ray_cluster, "--epochs", "3", "--checkpoints", "1,3")
    deadline = time.monotonic() + 180
    while not out.run(name).checkpoint_path(1).is_file():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.05)
    worker = json.loads(out.attempts_path(name).read_text().splitlines()[0])["pid"]
    os.kill(worker, signal.SIGKILL)  # the run's worker dies mid-training: Ray retries it, it resumes from last.pt
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    entry = out.read()["runs"][name]
    assert entry["status"] == DONE and entry["attempts"] == 2
    assert entry["wall_seconds"] > entry["attempt_seconds"] > 0  # the wall time covers both attempts
    pids = [json.loads(line)["pid"] for line in out.attempts_path(name).read_text().splitlines()]
    assert len(set(pids)) == 2 and worker in pids


def test_a_run_past_its_timeout_is_stopped_and_resumes_on_auto(ray_cluster, tmp_path, mnist_root):
    """--run-timeout 1: every attempt (torch's import alone takes longer) is stopped, recorded as failed and not
    retried; the same sweep with --address auto (the cluster `ray start` recorded) and no timeout finishes it."""
    out = Sweep(tmp_path / "timeout")
    proc = _tiny(out.path, mnist_root, "--address", ray_cluster, "--run-timeout", "1")
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr
    entry = out.read()["runs"]["mlp_z2_beta1_seed0"]
    assert entry["status"] == FAILED and entry["attempts"] == 1
    assert entry["error"].startswith("TimeoutError: attempt 1 ran longer than --run-timeout 1 s and was stopped")
    record = tmp_path / "raytmp" / "ray"
    record.mkdir(parents=True)
    (record / "ray_current_cluster").write_text(ray_cluster)  # what `ray start` writes (default temp dir)
    env = dict(_env(), RAY_TMPDIR=str(tmp_path / "raytmp"))
    proc = _tiny(out.path, mnist_root, "--address", "auto", env=env)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    state = out.read()
    assert state["runs"]["mlp_z2_beta1_seed0"]["status"] == DONE and state["ray"]["joined"] == ray_cluster


@pytest.mark.parametrize("args, fragment", [
    (["--cpus-per-run", "64"], "a run asks for 64 CPUs and 0 GPUs, more than any node"),
    (["--gpus-per-run", "1"], "a run asks for 1 CPUs and 1 GPUs, more than any node"),
])
def test_resources_no_node_has_are_refused_before_sweep_json(ray_cluster, tmp_path, mnist_root, args, fragment):
    proc = _tiny(tmp_path / "big", mnist_root, "--address", ray_cluster, *args)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and fragment in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("Error:")
    assert not (tmp_path / "big" / "sweep.json").exists()


def test_an_address_that_is_no_ray_cluster_is_refused_within_seconds(tmp_path, mnist_root):
    with socket.socket() as server:  # accepts TCP connections, never answers
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        started = time.monotonic()
        proc = _tiny(tmp_path / "nowhere", mnist_root, "--address", f"127.0.0.1:{server.getsockname()[1]}")
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "is not a Ray cluster: it accepts connections but gives no answer" in stderr
    assert time.monotonic() - started < 30 and not (tmp_path / "nowhere").exists()


def test_two_drivers_racing_on_an_empty_folder(ray_cluster, tmp_path, mnist_root):
    """Two `vaediag sweep` started at once on the same new folder: one drives the sweep, the other is refused in
    one line naming it; the folder ends as one complete sweep."""
    out = Sweep(tmp_path / "race")
    procs = [_tiny(out.path, mnist_root, "--address", ray_cluster) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], results
    loser = results[[p.returncode for p in procs].index(2)][1]
    assert "SWEEP_DIR" in loser and "is in use by vaediag sweep (PID" in loser
    assert {e["status"] for e in out.read()["runs"].values()} == {DONE}
    assert out.report_html_path.is_file() and not list(out.path.rglob("*.tmp"))


def test_a_grid_larger_than_max_runs_is_refused(tmp_path):
    seeds = ",".join(str(s) for s in range(1001))
    res = subprocess.run([sys.executable, "-m", "vaediag", "sweep", "--out", str(tmp_path / "huge"), "--seeds", seeds],
                         env=_env(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "the grid has 1001 runs, more than --max-runs 1000" in res.stderr
    assert not (tmp_path / "huge").exists()


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
