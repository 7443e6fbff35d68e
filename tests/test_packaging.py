"""Dependencies as a library declares them: torch / torchvision as ranges (the exact tested versions in
constraints.txt, which tox and .ci/run install with), Ray / Lightning / TensorBoard as extras with a one-line error
naming the extra, a light ``import vaediag``; and the built wheel installed into a fresh environment that already
holds the tested torch keeps that torch (marked ``slow``: ``-m "not slow"`` skips it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "ray", "lightning", "tensorboard", "matplotlib", "pandas")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirement(name: str, requirements: list[str]) -> str:
    return next(r for r in requirements if r.split(";")[0].replace(" ", "").startswith(name))


def test_dependencies_are_ranges_and_the_tested_versions_are_constraints():
    project = _project()
    deps = project["dependencies"]
    assert not [d for d in deps if "==" in d], "a library declares ranges; exact versions go to constraints.txt"
    assert _requirement("torch", deps).startswith("torch>=") and "<3" in _requirement("torch", deps)
    assert not any(d.startswith(("ray", "lightning", "tensorboard")) for d in deps)  # extras, not the base
    extras = project["optional-dependencies"]
    assert {"ray", "lightning", "tensorboard", "notebook", "dev"} <= set(extras)
    constraints = (ROOT / "constraints.txt").read_text(encoding="utf-8").split()
    assert "torch==2.14.1" in constraints and "torchvision==0.29.1" in constraints
    assert "PIP_CONSTRAINT = {toxinidir}/constraints.txt" in (ROOT / "tox.ini").read_text(encoding="utf-8")
    assert 'export PIP_CONSTRAINT="$PWD/constraints.txt"' in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for line in constraints:  # what this environment runs is what the constraints say
        if "==" in line and line.split("==")[0] in ("torch", "torchvision"):
            name, version = line.split("==")
            assert metadata.version(name).split("+")[0] == version


def _python(code: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def test_import_and_help_load_no_heavy_or_optional_library(tmp_path):
    code = ("import sys\nimport vaediag, vaediag.integrations\nfrom vaediag.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "tensorboard" in done.stdout  # the command is listed


@pytest.mark.parametrize("blocked, args, extra", [
    ("ray", ["sweep", "--out", "sweep", "--seeds", "0,1", "--epochs", "1"], "ray"),
    ("ray", ["study", "--out", "study", "--seeds", "0,1", "--epochs", "1"], "ray"),
    ("tensorboard", ["tensorboard", "nowhere", "--logdir", "tb"], "tensorboard"),
])
def test_a_command_without_its_extra_says_which_to_install(tmp_path, blocked, args, extra):
    code = f"import sys; sys.modules[{blocked!r}] = None\nfrom vaediag.cli import main\nmain({args!r})"
    done = _python(code, tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("Error: ") and f"pip install 'vaediag[{extra}]'" in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_sweeps_extra_check_leaves_ray_unimported_until_ray_starts(tmp_path):
    """Ray reads its authentication mode from the environment at import; the sweep sets it just before starting
    Ray, so checking the extra must not import it."""
    code = ("import sys\nfrom vaediag.sweep.ray_session import RaySession\nfrom vaediag.errors import ConfigError\n"
            "def start(self):\n    print('ray imported before start:', 'ray' in sys.modules)\n"
            "    raise ConfigError('stop here')\n"
            "RaySession._start = start\nfrom vaediag.cli import main\n"
            "main(['sweep', '--out', 'sweep', '--seeds', '0,1', '--epochs', '1'])")
    done = _python(code, tmp_path)
    assert "ray imported before start: False" in done.stdout, done.stdout + done.stderr[-2000:]
    assert done.returncode == 2 and "stop here" in done.stderr


def test_the_lightning_callback_without_lightning_says_which_extra(tmp_path):
    code = ("import sys; sys.modules['lightning'] = None\nfrom vaediag.errors import MissingExtraError\n"
            "try:\n    from vaediag.integrations.lightning import VaediagCallback\n"
            "except MissingExtraError as e:\n    print('ERROR', e)")
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "pip install 'vaediag[lightning]'" in done.stdout and done.stdout.count("\n") == 1


# ---------------------------------------------------------------------------------------------- the wheel
def _torch_site() -> Path:
    import torch

    return Path(torch.__file__).resolve().parents[1]


def _site_without_vaediag(site: Path, farm: Path) -> Path:
    """A folder of links to everything in ``site`` (the environment that holds the tested torch) but vaediag:
    what a fresh environment "that already holds torch" sees through a .pth file, without our own install."""
    farm.mkdir()
    for entry in site.iterdir():
        if "vaediag" not in entry.name.lower():
            (farm / entry.name).symlink_to(entry)
    return farm


def _build_wheel(tmp_path: Path) -> Path:
    """The wheel of a copy of the tracked sources (the worktree is not written into)."""
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path / "wheels"
    try:
        isolated = int(metadata.version("setuptools").split(".")[0]) < 68  # the build backend pyproject asks for
    except metadata.PackageNotFoundError:
        isolated = True
    args = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    done = subprocess.run(args + ([] if isolated else ["--no-build-isolation"]), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = out.glob("vaediag-*.whl")
    return wheel


@pytest.mark.slow
def test_the_wheel_installs_beside_the_tested_torch_and_works(tmp_path):
    wheel = _build_wheel(tmp_path)
    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    torch_site = _site_without_vaediag(_torch_site(), tmp_path / "torch-site")
    (site / "tested-torch.pth").write_text(f"{torch_site}\n", encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    pip = [python, "-m", "pip", "--isolated", "--disable-pip-version-check"]  # no user config, no find-links
    # the venv's own bundled setuptools would shadow the one torch was installed with (torch needs >= 77)
    subprocess.run(pip + ["uninstall", "-q", "-y", "setuptools"], capture_output=True, env=clean, timeout=120)
    torch_before = subprocess.run([python, "-c", "import torch; print(torch.__version__, torch.__file__)"],
                                  capture_output=True, text=True, check=True).stdout
    report = tmp_path / "report.json"
    done = subprocess.run(pip + ["install", "--no-index", "--report", str(report), str(wheel)],
                          capture_output=True, text=True, timeout=300, env=clean)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    installed = [item["metadata"]["name"] for item in json.loads(report.read_text())["install"]]
    assert installed == ["vaediag"], installed  # torch, numpy, ... are the environment's own: nothing replaced
    after = subprocess.run([python, "-c", "import torch; print(torch.__version__, torch.__file__)"],
                           capture_output=True, text=True, check=True).stdout
    assert after == torch_before and str(torch_site) in after
    done = subprocess.run([env / "bin" / "vaediag", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "tensorboard" in done.stdout, done.stderr
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
            "import torch, vaediag\n"
            "assert vaediag.__file__.startswith(sys.prefix), vaediag.__file__\n"
            "from vaediag.evaluate.settings import EvalSettings\n"
            "from helpers import synthetic_digits\nfrom classic_vae import VAE\n"
            "torch.manual_seed(0)\n"
            f"ev = vaediag.evaluate_model(VAE(), {str(tmp_path / 'run')!r}, 1, data=synthetic_digits(),\n"
            "    settings=EvalSettings(samples=200, grid=3, iwae=2), log=lambda *_: None)\n"
            f"print('epochs', ev.epochs, vaediag.Run({str(tmp_path / 'run')!r}).config['model']['input'])")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "epochs [1] flat" in done.stdout  # the shipped classifier came with the wheel's package data
