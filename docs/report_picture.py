"""Render the README's picture of a report: docs/_static/report.png, the top of a real report.html as headless
Chromium shows it at 1400 px.

    python docs/report_picture.py                 # a short real study into runs/report-picture (MLP, 8 epochs,
                                                  # checkpoints 2, 4, 8 on 12k MNIST digits), then the picture
    python docs/report_picture.py runs/study      # the picture of an existing run's report (vaediag study ...)

Chromium: ``$VAEDIAG_CHROMIUM``, else ``chromium`` on PATH (Debian's package). The PNG is reduced to a 256-colour
palette so that it stays small in the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "_static" / "report.png"
WIDTH, HEIGHT = 1400, 1050  # CSS pixels of the window: the report's full-width layout, its title to the first figure
STUDY = ["--epochs", "8", "--checkpoints", "2,4,8", "--train-size", "12000", "--samples", "3000", "--seed", "0"]
STUDY_DIR = ROOT / "runs" / "report-picture"  # kept (runs/ is not in git): a second call only renders again


def _chromium() -> str:
    found = os.environ.get("VAEDIAG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        sys.exit("Error: no Chromium (install Debian's chromium or set VAEDIAG_CHROMIUM)")
    return found


def _study(run_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "vaediag", "study", "--out", str(run_dir), *STUDY], check=True)


def render(report_html: Path, out: Path = OUT) -> Path:
    """Screenshot the top of ``report_html`` into ``out`` (a palette PNG); return ``out``."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="vaediag-picture-") as tmp:
        shot = Path(tmp) / "shot.png"
        subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={tmp}/profile", f"--window-size={WIDTH},{HEIGHT}",
                        "--force-device-scale-factor=1", f"--screenshot={shot}", report_html.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
        image = Image.open(shot).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.tmp")
        image.save(partial, format="PNG", optimize=True)
        partial.replace(out)
    return out


def main(argv: list[str]) -> None:
    if argv:
        report = Path(argv[0]) / "report.html"
        if not report.is_file():
            sys.exit(f"Error: {report} does not exist (run vaediag study --out {argv[0]} first)")
        print(render(report))
        return
    _study(STUDY_DIR)  # idempotent: a finished study only has its report rebuilt
    print(render(STUDY_DIR / "report.html"))


if __name__ == "__main__":
    main(sys.argv[1:])
