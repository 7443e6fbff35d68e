"""The report read in a real browser at 1400 and 420 CSS pixels, for every kind of run (tests/report_kinds.py):
rendered sizes measured, not assumed; and the latent explorer used the way a reader uses it, offline.

Legibility: the page never scrolls sideways; every figure shown has its smallest text (recorded in its PNG, see
vaediag.plots.output) at >= 10 CSS px at 1400 and >= 9 px at 420 after the browser's own scaling (clientWidth /
naturalWidth of the image actually shown: on a phone the narrow rendering); every DOM text >= 10 px; the verdict
column of the wide verdict table is on screen without scrolling; on a phone each claim is a card (claim, verdict,
measured; rule and explanation folded) and the overview is left out.

Explorer (the default-study-like run): it starts, a real mouse move over a point shows that digit's image and its
reconstruction pixel for pixel (compared with the run's arrays), a click on the plane shows the decoded grid cell
there, the checkpoint slider moves the points, a class toggle hides a class, a dragged box zooms; nothing but the
page itself is loaded. The report's size and load time are measured and bounded.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from vaediag.report.explorer import quantized

from report_kinds import KINDS, built_kind
from test_report_browser import SMALL_TEXT_JS, NARROW, WIDE, Page, browser, chromium  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
MIN_WIDE_PX, MIN_NARROW_PX, MIN_DOM_PX = 10, 9, 10
MAX_REPORT_MB = 14  # the default-study-like report, explorer included (fabricated noise digits compress worst)
MAX_LOAD_S = 20.0  # load event of that report on a busy 2-core machine; the explorer starts only after it
MARGIN = {"l": 52, "r": 12, "t": 12, "b": 46}  # the explorer plot's margins (templates/explorer.js)

FIGURES_JS = """(() => Array.from(document.querySelectorAll("figure.fig img")).map(img => {
  const box = img.getBoundingClientRect(), source = img.parentElement.querySelector("source");
  const narrow = !!(source && img.currentSrc === source.srcset);
  return {name: img.dataset.name, narrow, shown: box.width > 0 && box.height > 0, width: img.clientWidth,
          natural: img.naturalWidth, right: box.right, complete: img.complete,
          minText: Number(narrow ? img.dataset.narrowMinText : img.dataset.minText)};
}))()"""

PAGE_JS = ("""(() => {
  const small = [];
""" + SMALL_TEXT_JS + """  const table = Array.from(document.querySelectorAll("#verdict table")).find(
    t => t.tHead && Array.from(t.tHead.rows[0].cells).some(c => c.textContent === "verdict"));
  const verdict = table && Array.from(table.tHead.rows[0].cells).find(c => c.textContent === "verdict");
  const box = table && table.closest(".scroll").getBoundingClientRect();
  const overview = document.querySelector("#overview .gallery");
  return {scrollWidth: document.documentElement.scrollWidth, small,
          verdictRight: verdict ? verdict.getBoundingClientRect().right : null, boxRight: box ? box.right : null,
          overviewShown: !!(overview && overview.getClientRects().length)};
})()""") % MIN_DOM_PX

CARDS_JS = """(() => Array.from(document.querySelectorAll("tr.claim")).map(tr => {
  const box = tr.getBoundingClientRect(), cell = c => {
    const r = tr.querySelector(c).getBoundingClientRect();
    return {width: r.width, right: r.right, height: r.height};
  };
  return {display: getComputedStyle(tr).display, left: box.left, right: box.right, height: box.height,
          verdict: cell(".verdict-cell"), measured: cell(".measured"),
          measuredText: tr.querySelector(".measured").textContent,
          folded: Array.from(tr.querySelectorAll("details")).every(d => !d.open)};
}))()"""


@pytest.fixture(scope="module")
def pages(browser, tmp_path_factory):  # noqa: F811
    out = {}
    for kind in KINDS:
        _, html, _ = built_kind(kind, tmp_path_factory)
        out[kind] = {w: Page(browser, html.resolve().as_uri(), w) for w in (WIDE, NARROW)}
    return out


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("width", [WIDE, NARROW])
def test_every_figure_and_text_is_legible(pages, kind, width):
    page = pages[kind][width]
    page.eval("Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))")
    layout = page.eval(PAGE_JS)
    assert layout["scrollWidth"] <= width, (kind, width, layout["scrollWidth"])
    assert not layout["small"], (kind, width, layout["small"][:5])
    floor = MIN_WIDE_PX if width == WIDE else MIN_NARROW_PX
    shown = [f for f in page.eval(FIGURES_JS) if f["shown"]]
    assert shown
    for figure in shown:
        assert figure["complete"] and figure["natural"] > 0, figure
        assert figure["minText"] > 0, f"{figure['name']} records no smallest text"
        px = figure["minText"] * figure["width"] / figure["natural"]
        assert px >= floor, (kind, width, figure["name"], round(px, 2))
        assert figure["right"] <= width, (kind, width, figure)
    names = {f["name"] for f in shown}
    if width == NARROW:
        assert not layout["overviewShown"] and "overview" not in names
        assert all(f["narrow"] for f in shown if f["name"] in ("latent_all", "class_share", "pair_confusion"))
    else:
        assert layout["overviewShown"] and not any(f["narrow"] for f in shown)
        assert layout["verdictRight"] is not None and layout["verdictRight"] <= layout["boxRight"]  # no scrolling
    assert not page.problems()


def test_on_a_phone_each_claim_is_a_card(pages):
    cards = pages["study"][NARROW].eval(CARDS_JS)
    assert len(cards) >= 5
    for card in cards:
        assert card["display"] == "block" and card["left"] >= 0 and card["right"] <= NARROW, card
        assert card["folded"] and card["height"] < 320, (card["height"], card["measuredText"])  # claim, verdict, measured: a card, not a screen
        for part in ("verdict", "measured"):
            assert card[part]["width"] > 0 and card[part]["right"] <= NARROW, (part, card)
        assert card["measuredText"].strip()
    wide = pages["study"][WIDE].eval(CARDS_JS)
    assert all(card["display"] == "table-row" and card["folded"] for card in wide)


# ============================================================================================ the explorer
def _start(page: Page) -> dict:
    return page.eval("""(async () => { document.getElementById("explorer").scrollIntoView();
      const api = await window.vaediagExplorer.start(); return {ready: api.readyMs, unpack: api.unpackMs}; })()""")


def _screen(page: Page, x: float, y: float) -> tuple[float, float]:
    """Data coordinates -> the page's CSS pixels (viewport), from the plot's box and axis ranges."""
    box = page.eval("""(() => { const gd = document.getElementById("ex-plot"), b = gd.getBoundingClientRect();
      return {left: b.left, top: b.top, w: gd.layout.width, h: gd.layout.height, x: gd.layout.xaxis.range,
              y: gd.layout.yaxis.range}; })()""")
    w, h = box["w"] - MARGIN["l"] - MARGIN["r"], box["h"] - MARGIN["t"] - MARGIN["b"]
    return (box["left"] + MARGIN["l"] + (x - box["x"][0]) / (box["x"][1] - box["x"][0]) * w,
            box["top"] + MARGIN["t"] + (box["y"][1] - y) / (box["y"][1] - box["y"][0]) * h)


def _mouse(page: Page, kind: str, x: float, y: float, **extra) -> None:
    page.browser.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, **extra}, session=page.sid)


def _click(page: Page, x: float, y: float) -> None:
    for kind in ("mousePressed", "mouseReleased"):
        _mouse(page, kind, x, y, button="left", clickCount=1)


def _canvas(page: Page, canvas_id: str) -> np.ndarray:
    """The 28 x 28 image a canvas shows (112 x 112, each pixel a 4 x 4 block: its centres sampled)."""
    values = page.eval(f"""(() => {{ const c = document.getElementById("{canvas_id}");
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, out = [];
      for (let i = 0; i < 28; i++) for (let j = 0; j < 28; j++) out.push(d[((i * 4 + 2) * c.width + j * 4 + 2) * 4]);
      return out; }})()""")
    return np.asarray(values, dtype=np.uint8).reshape(28, 28)


def _wait(page: Page, expression: str, timeout: float = 10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = page.eval(expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {expression}")


@pytest.mark.parametrize("width", [WIDE, NARROW])
def test_the_explorer_shows_the_hovered_digit_and_decodes_a_click_offline(pages, tmp_path_factory, width):
    run, _, _ = built_kind("study", tmp_path_factory)
    page = pages["study"][width]
    timing = _start(page)
    assert timing["ready"] > 0
    last = run.artifacts(run.last)
    data = page.eval("window.vaediagExplorer.data")
    frame = data["frames"][-1]
    k = int(np.flatnonzero(np.asarray(data["labels"]) == 3)[0])  # a shown test digit 3
    page.eval("window.vaediagExplorer.setClasses(window.vaediagExplorer.data.classes.map((_, c) => c === 3))"
              ".then(() => true)")
    x, y = _screen(page, frame["x"][k], frame["y"][k])
    if width == WIDE:
        _mouse(page, "mouseMoved", x, y)  # hover
    else:
        _click(page, x, y)  # a tap
    _wait(page, f"document.getElementById('ex-digit').dataset.tile === '{k}' && "
                f"document.getElementById('ex-recon').dataset.epoch === '{run.last}'")
    assert np.array_equal(_canvas(page, "ex-digit"), last["explorer_images"][k])  # the digit itself
    assert np.array_equal(_canvas(page, "ex-recon"), quantized(last["explorer_recon"][k]))  # its reconstruction
    assert int(data["index"][k]) == int(last["explorer_index"][k])

    # a click on the plane: the decoded grid cell under it
    grid = frame["grid"]
    (x0, x1, y0, y1), n = grid["extent"], grid["n"]
    cx, cy = x0 + (x1 - x0) * 0.37, y0 + (y1 - y0) * 0.81
    px, py = _screen(page, cx, cy)
    _mouse(page, "mouseMoved", px, py)
    _click(page, px, py)
    state = _wait(page, "window.vaediagExplorer.state.click && document.getElementById('ex-decoded').dataset.tile "
                        "=== String(window.vaediagExplorer.state.click.cell) && window.vaediagExplorer.state.click")
    i, j = int((y1 - state["y"]) / (y1 - y0) * n), int((state["x"] - x0) / (x1 - x0) * n)
    assert abs(state["x"] - cx) < (x1 - x0) / 100 and abs(state["y"] - cy) < (y1 - y0) / 100
    assert state["cell"] == i * n + j
    assert np.array_equal(_canvas(page, "ex-decoded"), quantized(last["explorer_grid"][i * n + j]))

    # the slider: the first checkpoint's codes and reconstruction
    page.eval("""(async () => { const s = document.getElementById("ex-epoch"); s.value = "0";
      s.dispatchEvent(new Event("input")); await new Promise(r => setTimeout(r, 300)); return true; })()""")
    first = data["frames"][0]
    trace = page.eval("(() => { const t = document.getElementById('ex-plot').data[3]; return {x: t.x, k: t.customdata}; })()")
    assert trace["x"] == [first["x"][i] for i in trace["k"]]
    assert page.eval("document.getElementById('ex-epoch-label').textContent") == f"epoch {run.first}"
    _wait(page, f"document.getElementById('ex-recon').dataset.epoch === '{run.first}'")
    shown = int(page.eval("document.getElementById('latent-explorer').dataset.hovered"))  # the click may hover another
    assert np.array_equal(_canvas(page, "ex-recon"), quantized(run.artifacts(run.first)["explorer_recon"][shown]))

    # the class toggles: "all", then one class off
    page.eval("document.querySelector('.ex-all[data-all=\"1\"]').click(), true")
    page.eval("document.querySelector('.ex-class[data-class=\"5\"]').click(), true")
    time.sleep(0.3)
    visible = page.eval("document.getElementById('ex-plot').data.map(t => t.visible)")
    assert visible[5] == "legendonly" and all(v is True for c, v in enumerate(visible[:10]) if c != 5)
    if width == WIDE:  # zoom: drag a box
        before = page.eval("document.getElementById('ex-plot').layout.xaxis.range")
        ax, ay = _screen(page, x0 + (x1 - x0) * 0.3, y0 + (y1 - y0) * 0.7)
        bx, by = _screen(page, x0 + (x1 - x0) * 0.6, y0 + (y1 - y0) * 0.4)
        _mouse(page, "mousePressed", ax, ay, button="left", clickCount=1)
        for t in np.linspace(0, 1, 6):
            _mouse(page, "mouseMoved", ax + (bx - ax) * t, ay + (by - ay) * t, button="left", buttons=1)
        _mouse(page, "mouseReleased", bx, by, button="left", clickCount=1)
        after = _wait(page, f"(() => {{ const r = document.getElementById('ex-plot').layout.xaxis.range;"
                            f" return r[1] - r[0] < {0.5 * (before[1] - before[0])} ? r : null; }})()")
        assert before[0] < after[0] < after[1] < before[1]
    requests = [e["params"]["request"]["url"][:60] for e in page.browser.events
                if e.get("sessionId") == page.sid and e["method"] == "Network.requestWillBeSent"]
    assert all(u.startswith(("file:", "data:", "blob:", "about:")) for u in requests), requests  # offline
    assert not page.problems()


def test_report_size_and_load_time_of_a_default_study_like_run(browser, tmp_path_factory):  # noqa: F811
    _, html, _ = built_kind("study", tmp_path_factory)
    size_mb = html.stat().st_size / 1e6
    start = time.monotonic()
    page = Page(browser, html.resolve().as_uri(), WIDE)  # returns at the load event
    wall = time.monotonic() - start
    nav = page.eval("performance.getEntriesByType('navigation')[0].toJSON()")
    explorer = _start(page)
    parts = page.eval("""(() => ({plotly: document.getElementById("ex-plotly").textContent.length,
                                  data: document.getElementById("ex-data").textContent.length,
                                  images: Array.from(document.querySelectorAll("img, source"))
                                      .reduce((n, e) => n + (e.getAttribute("src") || e.getAttribute("srcset") || "").length, 0)}))()""")
    measured = {"report_mb": round(size_mb, 2), "load_event_ms": round(nav["loadEventEnd"]), "wall_s": round(wall, 2),
                "dom_content_loaded_ms": round(nav["domContentLoadedEventEnd"]),
                "explorer_unpack_ms": round(explorer["unpack"]), "explorer_ready_ms": round(explorer["ready"]),
                "plotly_gz_base64_mb": round(parts["plotly"] / 1e6, 2), "explorer_data_mb": round(parts["data"] / 1e6, 2),
                "figures_mb": round(parts["images"] / 1e6, 2)}
    print("\nreport size and load time (default-study-like run):", json.dumps(measured))
    assert size_mb <= MAX_REPORT_MB, measured
    assert nav["loadEventEnd"] / 1000 <= MAX_LOAD_S, measured
    assert explorer["ready"] / 1000 <= MAX_LOAD_S, measured
    assert not page.problems()
