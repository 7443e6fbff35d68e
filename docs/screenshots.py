"""Screenshots of a run report (and a sweep report) for the docs, taken with headless Chromium, and the report's
size and load time.

    python docs/screenshots.py RUN_DIR [--sweep SWEEP_DIR] [--out docs/_static]

writes (small PNGs, each one region of the page at the width a reader uses):

- ``report-answers-1400.png``  Q3 on a 1400 px screen: the one-line answers, then the evidence;
- ``report-phone-420.png``     Q1 on a 420 px phone: the narrow rendering of the latent scatter;
- ``report-claims-420.png``    the Claims section on a phone: one card per claim (when the report has claims);
- ``explorer-1400.png``        the latent explorer with a digit hovered and a point of the plane decoded;
- ``sweep-phone-420.png``      a sweep configuration's answers on a phone (with ``--sweep``);
- ``sweep-figure-420.png``     the sweep's key metrics with their CI bands on a phone (its narrow rendering);

and prints the report's size and its load time in this browser as JSON. Chromium is Debian's ``chromium`` (or
``$VAEDIAG_CHROMIUM``), driven over the DevTools protocol by the client of tests/test_report_browser.py.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_report_browser import Chromium, Page, chromium_path  # noqa: E402

MAX_SIDE = 1400  # pixels: screenshots wider or taller are scaled down


def clip(page: Page, selector: str, height: int | None = None, pad: int = 8) -> dict:
    """The page region of the first element matching ``selector`` (its top ``height`` CSS px when given)."""
    box = page.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
      e.scrollIntoView(); const r = e.getBoundingClientRect();
      return {{x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height}}; }})()""")
    return {"x": max(box["x"] - pad, 0), "y": max(box["y"] - pad, 0), "width": box["w"] + 2 * pad,
            "height": min(box["h"], height or box["h"]) + 2 * pad, "scale": 1}


def shoot(page: Page, region: dict, path: Path) -> Path:
    from PIL import Image

    data = base64.b64decode(page.browser.call("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": region}, session=page.sid)["data"])
    image = Image.open(io.BytesIO(data)).convert("RGB")
    scale = min(1.0, MAX_SIDE / max(image.size))
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT)  # small PNGs
    image.save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB, {image.width} x {image.height})")
    return path


def explorer_shot(page: Page, out: Path) -> dict:
    timing = page.eval("""(async () => { document.getElementById("explorer").scrollIntoView();
      const api = await window.vaediagExplorer.start(); return {ready: api.readyMs, unpack: api.unpackMs}; })()""")
    target = page.eval("""(() => { const api = window.vaediagExplorer, gd = document.getElementById("ex-plot");
      const f = api.data.frames[api.data.frames.length - 1], b = gd.getBoundingClientRect(), m = {l: 52, r: 12, t: 12, b: 46};
      const w = gd.layout.width - m.l - m.r, h = gd.layout.height - m.t - m.b;
      const rx = gd.layout.xaxis.range, ry = gd.layout.yaxis.range;
      const at = (x, y) => [b.left + m.l + (x - rx[0]) / (rx[1] - rx[0]) * w, b.top + m.t + (ry[1] - y) / (ry[1] - ry[0]) * h];
      const k = api.data.labels.indexOf(8);
      return {point: at(f.x[k], f.y[k]), empty: at(rx[0] + 0.2 * (rx[1] - rx[0]), ry[0] + 0.85 * (ry[1] - ry[0]))}; })()""")
    for kind in ("mousePressed", "mouseReleased"):
        page.browser.call("Input.dispatchMouseEvent", {"type": kind, "x": target["empty"][0], "y": target["empty"][1],
                                                       "button": "left", "clickCount": 1}, session=page.sid)
    page.browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": target["point"][0],
                                                   "y": target["point"][1]}, session=page.sid)
    time.sleep(0.8)
    shoot(page, clip(page, "#explorer"), out / "explorer-1400.png")
    return timing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--sweep", type=Path, default=None, help="a SWEEP_DIR whose report.html to shoot too")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "_static")
    args = parser.parse_args(argv)
    exe = chromium_path()
    if exe is None:
        raise SystemExit("no Chromium: apt-get install chromium, or set VAEDIAG_CHROMIUM")
    html = (args.run_dir / "report.html").resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, Chromium(exe, Path(tmp) / "profile", Path(tmp) / "log") as browser:
        start = time.monotonic()
        wide = Page(browser, html.as_uri(), 1400)
        wall = time.monotonic() - start
        nav = wide.eval("performance.getEntriesByType('navigation')[0].toJSON()")
        shoot(wide, clip(wide, "#q3", height=900), args.out / "report-answers-1400.png")
        timing = explorer_shot(wide, args.out)
        phone = Page(browser, html.as_uri(), 420)
        shoot(phone, clip(phone, "#q1", height=1500), args.out / "report-phone-420.png")
        if phone.eval("!!document.querySelector('#claims')"):
            shoot(phone, clip(phone, "#claims", height=1300), args.out / "report-claims-420.png")
        if args.sweep is not None:
            sweep = Page(browser, (args.sweep / "report.html").resolve().as_uri(), 420)
            shoot(sweep, clip(sweep, "#config-1", height=1500), args.out / "sweep-phone-420.png")
            shoot(sweep, clip(sweep, "#figure", height=1400), args.out / "sweep-figure-420.png")
        print(json.dumps({"report": str(html), "report_mb": round(html.stat().st_size / 1e6, 2),
                          "load_event_ms": round(nav["loadEventEnd"]), "wall_to_load_s": round(wall, 2),
                          "explorer_unpack_ms": round(timing["unpack"]), "explorer_ready_ms": round(timing["ready"])}))


if __name__ == "__main__":
    main()
