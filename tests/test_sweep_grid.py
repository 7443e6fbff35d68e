"""The sweep grid, SWEEP_DIR and the `vaediag sweep` command's bad-input one-liners (no Ray, no torch work)."""

from __future__ import annotations

import itertools
import json

import pytest
from click.testing import CliRunner

from vaediag.cli import cli
from vaediag.models.train_config import TrainConfig
from vaediag.errors import ConfigError, RunDirError
from vaediag.sweep import Grid, Sweep, default_resources, parse_axis, point_name
from vaediag.store.sweepdir import DONE, FORMAT, LOCK_FILE, PENDING

BASE = TrainConfig(epochs=2, checkpoints=(1, 2), train_size=100, test_size=50)


def test_axes_parse_comma_lists():
    assert parse_axis("seed", "0, 1,2") == (0, 1, 2)
    assert parse_axis("beta", "1,4,0.5") == (1.0, 4.0, 0.5)
    assert parse_axis("model", "mlp,conv") == ("mlp", "conv")
    assert parse_axis("latent_dim", (2,)) == (2,)


@pytest.mark.parametrize("name, text, words", [
    ("seed", "0,,1", ["--seeds", "empty item"]),
    ("seed", "0,1,0", ["--seeds", "0", "more than once"]),
    ("latent_dim", "2,x", ["--latent-dim", "'x'", "not an integer"]),
    ("beta", "1,four", ["--beta", "not a number"]),
    ("lr", "1e-3,nan", ["--lr", "not a finite number"]),
    ("model", "mlp,transformer", ["--model", "unknown model 'transformer'"]),
])
def test_bad_axis_values_are_one_line_errors_naming_the_option(name, text, words):
    with pytest.raises(ConfigError) as info:
        parse_axis(name, text)
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_points_are_the_cartesian_product_with_stable_unique_names():
    grid = Grid.from_options(BASE, seed="0,1,2", latent_dim="2,16", beta="1,0.5", model="mlp,conv")
    points = grid.points()
    expected = list(itertools.product(["mlp", "conv"], [2, 16], [1.0, 0.5], [0, 1, 2]))
    assert [(p.config.model.model, p.config.model.latent_dim, p.config.model.beta, p.config.seed)
            for p in points] == expected
    names = [p.name for p in points]
    assert len(set(names)) == len(names) == len(grid) == 24
    assert names[0] == "mlp_z2_beta1_seed0" and "conv_z16_beta0.5_seed2" in names
    assert all(set(n) <= set("abcdefghijklmnopqrstuvwxyz0123456789._-") for n in names)
    # the shared settings are the base's; each model keeps its own default init
    assert all(p.config.epochs == 2 and p.config.train_size == 100 for p in points)
    assert {p.config.model.init for p in points if p.config.model.model == "conv"} == {"glorot"}
    # a name depends only on the run's settings: extending the sweep never renames a run
    wider = Grid.from_options(BASE, seed="0,1,2,3", latent_dim="2,16,32", beta="1,0.5", model="mlp,conv")
    assert set(names) <= {p.name for p in wider.points()}


def test_names_show_lr_and_batch_size_only_off_their_defaults():
    names = [p.name for p in Grid.from_options(BASE, lr="0.001,1e-05", batch_size="128,64").points()]
    assert names == ["mlp_z2_beta1_seed0", "mlp_z2_beta1_bs64_seed0", "mlp_z2_beta1_lr1e-05_seed0",
                     "mlp_z2_beta1_lr1e-05_bs64_seed0"]
    assert point_name(TrainConfig(lr=0.01, seed=7)) == "mlp_z2_beta1_lr0.01_seed7"


def test_invalid_point_names_the_run():
    with pytest.raises(ConfigError, match=r"sweep point .*--latent-dim 0.*latent dim must be"):
        Grid.from_options(BASE, latent_dim="2,0").points()


def test_default_resources_keep_two_threads_per_run():
    assert default_resources(4, cpus=2, gpus=0, node_cpus=2) == (2, 0.0)   # one run at a time, 2 threads
    assert default_resources(4, cpus=16, gpus=0, node_cpus=16) == (4, 0.0)  # 4 in parallel
    assert default_resources(2, cpus=16, gpus=0, node_cpus=16) == (8, 0.0)  # fewer runs than slots
    assert default_resources(6, cpus=16, gpus=2, node_cpus=16) == (8, 1.0)  # a GPU per run
    assert default_resources(4, cpus=64, gpus=0, node_cpus=8) == (8, 0.0)   # never more than a node has
    assert default_resources(4, cpus=8, gpus=0, node_cpus=8, cpus_per_run=1) == (1, 0.0)


def _grid(**lists) -> Grid:
    return Grid.from_options(BASE, **{"seed": "0,1", **lists})


def test_sweep_json_new_extended_and_refused(tmp_path):
    sweep = Sweep(tmp_path / "sw")
    state = sweep.prepare(_grid(), {"samples": 500}, {"vaediag": "x"})
    assert state["format"] == FORMAT and state["grid"]["seed"] == [0, 1]
    assert {n: e["status"] for n, e in state["runs"].items()} == {"mlp_z2_beta1_seed0": PENDING,
                                                                   "mlp_z2_beta1_seed1": PENDING}
    state["runs"]["mlp_z2_beta1_seed0"]["status"] = DONE
    sweep.write(state)
    assert json.loads(sweep.sweep_path.read_text())["runs"]["mlp_z2_beta1_seed0"]["status"] == DONE
    # more points: the old ones keep their status, the new ones are pending
    wider = sweep.prepare(_grid(latent_dim="2,8"), {"samples": 500}, {})
    assert len(wider["runs"]) == 4 and wider["runs"]["mlp_z2_beta1_seed0"]["status"] == DONE
    assert wider["runs"]["mlp_z8_beta1_seed1"]["status"] == PENDING
    # other shared settings: refused, naming the difference
    other = Grid.from_options(TrainConfig(epochs=3, checkpoints=(1, 3), train_size=100, test_size=50), seed="0")
    with pytest.raises(ConfigError, match=r"training settings checkpoints \[1, 2\] \(not \[1, 3\]\), epochs 2 \(not 3\)"):
        sweep.prepare(other, {"samples": 500}, {})
    with pytest.raises(ConfigError, match=r"evaluation settings samples 500 \(not 1000\)"):
        sweep.prepare(_grid(), {"samples": 1000}, {})


def test_a_folder_that_is_not_a_sweep_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not empty and holds no vaediag sweep"):
        Sweep(tmp_path).check_usable()
    Sweep(tmp_path / "new").check_usable()  # missing: fine


def test_second_driver_is_refused(tmp_path):
    sweep = Sweep(tmp_path / "sw")
    with sweep.lock("sweep"):
        assert (sweep.path / LOCK_FILE).is_file()
        import subprocess
        import sys
        code = ("import sys; from vaediag.sweep import Sweep\n"
                "try:\n    Sweep(sys.argv[1]).lock('sweep').__enter__()\n"
                "except Exception as e:\n    print(e)\n")
        out = subprocess.run([sys.executable, "-c", code, str(sweep.path)], capture_output=True, text=True).stdout
        assert out.startswith(f"SWEEP_DIR {sweep.path} is in use by vaediag sweep (PID"), out


def test_attempt_lines_count_per_invocation(tmp_path):
    sweep = Sweep(tmp_path)
    for inv in ("a", "b", "a"):
        sweep.record_attempt("r", inv)
    with open(sweep.attempts_path("r"), "a") as fh:
        fh.write('{"invocation": "a", "sta')  # a line cut by a kill
    assert sweep.attempts("r", "a") == 2 and sweep.attempts("r", "b") == 1 and sweep.attempts("x", "a") == 0
    assert sweep.attempts("r") == 3


@pytest.mark.parametrize("args, words", [
    (["--seeds", "0,,1"], ["--seeds", "empty item"]),
    (["--latent-dim", "2,2"], ["--latent-dim", "more than once"]),
    (["--beta", "1,x"], ["--beta", "not a number"]),
    (["--model", "mlp,rnn"], ["--model", "unknown model"]),
    (["--epochs", "2", "--checkpoints", "3"], ["beyond --epochs"]),
    (["--cpus-per-run", "0"], ["--cpus-per-run"]),
])
def test_cli_bad_input_is_one_line_exit_2_nothing_written(tmp_path, args, words):
    out = tmp_path / "sw"
    res = CliRunner().invoke(cli, ["sweep", "--out", str(out), "--epochs", "2", *args])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and all(w in lines[0] for w in words), res.output
    assert not out.exists()


def test_cli_refuses_a_folder_that_is_not_a_sweep(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    res = CliRunner().invoke(cli, ["sweep", "--out", str(tmp_path), "--epochs", "1"])
    assert res.exit_code == 2 and "holds no vaediag sweep" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_study_seeds_and_seed_together_are_refused(tmp_path):
    res = CliRunner().invoke(cli, ["study", "--out", str(tmp_path / "s"), "--seed", "3", "--seeds", "0,1"])
    assert res.exit_code == 2 and "either --seed" in res.output and not (tmp_path / "s").exists()


def test_package_exports_are_lazy():
    import subprocess
    import sys
    code = ("import sys, vaediag; assert 'ray' not in sys.modules and 'torch' not in sys.modules\n"
            "import vaediag.cli, vaediag.sweep; assert 'ray' not in sys.modules and 'torch' not in sys.modules\n"
            "assert vaediag.run_sweep.__module__ == 'vaediag.sweep.runner'; assert 'ray' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address, words", [
    ("nonsense", ["--address", "HOST:PORT"]),
    ("127.0.0.1:notaport", ["--address", "HOST:PORT"]),
    (None, ["cannot reach a Ray cluster", "ray start --head"]),  # None: a closed port on this machine
])
def test_unreachable_or_malformed_address_is_refused_fast_and_writes_nothing(tmp_path, address, words):
    import time

    out = tmp_path / "sw"
    address = address or f"127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    res = CliRunner().invoke(cli, ["sweep", "--out", str(out), "--epochs", "1", "--address", address])
    assert time.perf_counter() - t0 < 10  # Ray itself would retry for minutes
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), res.output
    assert not out.exists()


# ------------------------------------------------------------------ Ray options, the reaper, stale statuses
def test_ray_options_are_validated_in_one_line():
    from vaediag.sweep import RayOptions

    assert RayOptions().validate() == RayOptions()
    for bad, words in ((dict(cpus_per_run=0), "--cpus-per-run must be an integer >= 1"),
                       (dict(gpus_per_run=-1), "--gpus-per-run must be >= 0"),
                       (dict(max_retries=1.5), "--max-retries must be an integer >= 0"),
                       (dict(run_timeout=0), "--run-timeout must be a number of seconds > 0"),
                       (dict(address=6379), "--address must be 'auto' or HOST:PORT")):
        with pytest.raises(ConfigError, match=words):
            RayOptions(**bad).validate()


def test_run_sweep_takes_options_or_keywords_not_both(tmp_path):
    from vaediag.models.train_config import TrainConfig
    from vaediag.sweep import Grid, RayOptions, run_sweep

    grid = Grid.from_options(TrainConfig(epochs=1), seed="0")
    with pytest.raises(ConfigError, match="either as ray_options=RayOptions"):
        run_sweep(grid, tmp_path / "sw", ray_options=RayOptions(), cpus_per_run=2)
    with pytest.raises(ConfigError, match="settings: unknown name bogus"):
        run_sweep(grid, tmp_path / "sw", settings={"bogus": 1})
    with pytest.raises(ConfigError, match="the grid has 3 runs, more than --max-runs 2"):
        run_sweep(Grid.from_options(TrainConfig(epochs=1), seed="0,1,2"), tmp_path / "sw", max_runs=2)
    assert not (tmp_path / "sw").exists()


def test_a_stale_running_status_is_pending_again(tmp_path):
    sweep = Sweep(tmp_path)
    grid = _grid()
    state = sweep.prepare(grid, {"samples": 500}, {})
    name = grid.points()[0].name
    state["runs"][name]["status"] = "running"  # left by a SIGKILLed driver
    sweep.write(state)
    assert sweep.prepare(grid, {"samples": 500}, {})["runs"][name]["status"] == "pending"


def test_the_reaper_kills_the_marked_processes_and_removes_the_folder(tmp_path):
    """A driver (here: this test) starts the reaper, then two processes carrying its token and one without; when
    the driver's pipe closes, the marked ones are killed within seconds, the other lives, the folder is gone."""
    import subprocess
    import sys
    import time

    from vaediag.sweep import ray_session, reaper

    folder = tmp_path / "ray-temp"
    folder.mkdir()
    token = "t0k3n"
    watcher = subprocess.Popen([sys.executable, "-I", str(ray_session.REAPER), token, str(folder), "0"],
                               stdin=subprocess.PIPE, start_new_session=True)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    env = dict(__import__("os").environ, **{reaper.ENV: token})
    marked = [subprocess.Popen(sleeper, env=env, start_new_session=True) for _ in range(2)]
    spared = subprocess.Popen(sleeper, start_new_session=True)
    try:
        time.sleep(0.5)
        watcher.stdin.close()  # the driver is gone
        watcher.wait(timeout=30)
        for proc in marked:
            assert proc.wait(timeout=10) == -9
        assert spared.poll() is None and not folder.exists()
    finally:
        for proc in (*marked, spared):
            proc.kill()
            proc.wait()
def test_the_reaper_kills_what_a_marked_process_started_even_when_its_token_is_gone(tmp_path):
    """Ray's agents rename themselves (setproctitle), which hides the token in /proc/PID/environ; the raylet that
    started them carries it. A marked parent starts an unmarked child and exits (the child is orphaned) while the
    driver lives; when the pipe closes, the reaper ends the child it recorded, and spares an unrelated process."""
    import os
    import subprocess
    import sys
    import time

    from vaediag.sweep import ray_session, reaper

    token, pid_file = "t0k3n2", tmp_path / "child.pid"
    watcher = subprocess.Popen([sys.executable, "-I", str(ray_session.REAPER), token, "", "0"],
                               stdin=subprocess.PIPE, start_new_session=True)
    parent_code = ("import os, subprocess, sys, time; env = {k: v for k, v in os.environ.items() if k != %r}; "
                   "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], env=env); "
                   "open(%r, 'w').write(str(p.pid)); time.sleep(2.5)") % (reaper.ENV, str(pid_file))
    parent = subprocess.Popen([sys.executable, "-c", parent_code], env=dict(os.environ, **{reaper.ENV: token}),
                              start_new_session=True)
    spared = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    child = None
    try:
        parent.wait(timeout=30)  # gone: its child is an orphan now, unmarked, no marked parent
        child = int(pid_file.read_text())
        assert reaper.ENV.encode() not in open(f"/proc/{child}/environ", "rb").read()
        watcher.stdin.close()  # the driver is gone
        watcher.wait(timeout=30)
        deadline = time.monotonic() + 10
        while reaper._stat(child) is not None and open(f"/proc/{child}/stat").read().split()[2] != "Z" \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert reaper._stat(child) is None or open(f"/proc/{child}/stat").read().split()[2] == "Z"
        assert spared.poll() is None
    finally:
        spared.kill()
        spared.wait()
        if child and reaper._stat(child) is not None:
            try:
                os.kill(child, 9)
            except OSError:
                pass


