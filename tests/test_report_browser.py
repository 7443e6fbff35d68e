"""report.html rendered in a real browser: headless Chromium shows every embedded figure, and nothing fails;
the page reads well at 1400 and at 420 CSS pixels wide (no text below 10 px, figures at their size or the
full width, wide tables scrolling in their own box); quoted numbers and column headers carry hover texts;
tables sort on a click; a figure opens full size on a click. The rendered size of every figure's text at both
widths, for every kind of run, and the latent explorer are tested in tests/test_report_legibility.py.

Chromium is driven over the DevTools protocol on ``--remote-debugging-pipe`` (JSON messages ended by a NUL
byte; the browser reads commands on its fd 3 and writes replies and events on its fd 4), so the test needs
Debian's ``chromium`` package and no Python dependency. Set ``VAEDIAG_CHROMIUM`` to use another binary.

Without a Chromium the test skips locally and fails in CI (``CI=true``), where ``.ci/run`` installs it.
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import json
import os
import select
import shutil
import struct
import subprocess
import time
from pathlib import Path

import re

import pytest

from vaediag import plots, report
from vaediag.plots import DISPLAY_SCALE

from fake_run import shared_run_with_figures

pytestmark = pytest.mark.browser

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TIMEOUT_S = 180.0  # generous: a cold Chromium on a busy 2-core machine; a real hang still fails
# As root Chromium needs --no-sandbox; without the networking flags it keeps trying (and failing) to reach
# Google's hosts from a closed network. A fresh --user-data-dir per run is added by Chromium.__init__.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
    "--mute-audio", "--hide-scrollbars", "--window-size=1400,1000", "--remote-debugging-pipe",
)
WIDE, NARROW = 1400, 420  # CSS pixels: a desktop window and a phone
MIN_TEXT_PX = 10

# every element with text of its own, shown, whose font is below %d CSS px -> small (shared with the legibility tests)
SMALL_TEXT_JS = """  for (const el of document.body.querySelectorAll("*")) {
    const text = Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join("").trim();
    if (!text || !el.getClientRects().length || ["SCRIPT", "STYLE"].includes(el.tagName)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < %d) small.push([el.tagName, text.slice(0, 40), size]);
  }
"""

LAYOUT_JS = ("""(() => {
  const rect = e => e.getBoundingClientRect();
  const figures = Array.from(document.querySelectorAll("figure.fig")).map(f => {
    const img = f.querySelector("img");
    return {name: img.dataset.name, left: rect(f).left, top: rect(f).top, width: img.clientWidth,
            outerWidth: rect(img).width,
            attrWidth: Number(img.getAttribute("width")), naturalWidth: img.naturalWidth,
            room: rect(f.parentElement).width};
  });
  const tables = Array.from(document.querySelectorAll("table")).map(t => {
    const box = t.closest(".scroll");
    return {inBox: !!box, overflowX: box ? getComputedStyle(box).overflowX : null,
            boxWidth: box ? box.clientWidth : null, boxScrollWidth: box ? box.scrollWidth : null,
            right: rect(box || t).right, headRows: t.tHead ? t.tHead.rows.length : 0,
            emptyHeaders: t.tHead ? Array.from(t.tHead.querySelectorAll("th")).filter(h => !h.textContent.trim()).length : 0};
  });
  const small = [];
""" + SMALL_TEXT_JS + """  const de = document.documentElement;
  return {scrollWidth: de.scrollWidth, clientWidth: de.clientWidth, bodyWidth: document.body.clientWidth,
          figures, tables, small, texts: document.body.querySelectorAll("*").length};
})()""") % MIN_TEXT_PX

TITLES_JS = """(() => ({
  nums: Array.from(document.querySelectorAll("span.num")).map(s => ({title: s.title, text: s.textContent,
        ...s.dataset})),
  headers: Array.from(document.querySelectorAll("thead th")).map(h => ({text: h.textContent, title: h.title})),
}))()"""

SORT_JS = """(async () => {
  const table = Array.from(document.querySelectorAll("h3")).find(h => h.textContent === "Latent separation")
    .nextElementSibling.querySelector("table");
  const col = Array.from(table.tHead.rows[0].cells).findIndex(th => th.textContent === "silhouette");
  const read = () => Array.from(table.tBodies[0].rows).map(r => [r.cells[0].textContent, r.cells[col].textContent]);
  const before = read();
  table.tHead.rows[0].cells[col].click();
  const ascending = read();
  table.tHead.rows[0].cells[col].click();
  const descending = read();
  return {before, ascending, descending, sort: table.tHead.rows[0].cells[col].getAttribute("aria-sort")};
})()"""

ZOOM_JS = """(async () => {
  const figure = document.getElementById("fig-latent_all"), img = figure.querySelector("img");
  const shown = () => ({target: figure.matches(":target"), position: getComputedStyle(figure).position,
                        width: img.clientWidth, natural: img.naturalWidth,
                        scrollY: window.scrollY});
  window.scrollTo(0, 0);
  figure.querySelector("a.zoom").click();
  await new Promise(r => setTimeout(r, 50));
  const open = shown();
  const at = document.elementFromPoint(5, window.innerHeight - 5);  // a click anywhere closes it
  at.click();
  await new Promise(r => setTimeout(r, 50));
  return {open, closedBy: at.className, closed: shown()};
})()"""

# Every <img>, once each has either decoded or failed: img.decode() rejects for a broken image.
IMAGES_JS = """(async () => {
  const imgs = Array.from(document.images);
  const decoded = await Promise.all(imgs.map(i => i.decode().then(() => true, () => false)));
  return imgs.map((i, k) => {
    const box = i.getBoundingClientRect();
    return {name: i.dataset.name || null, attrWidth: Number(i.getAttribute("width")), src: i.currentSrc.slice(0, 22), complete: i.complete,
            decoded: decoded[k], naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight,
            shownWidth: box.width, shownHeight: box.height};
  });
})()"""


def chromium_path() -> str | None:
    exe = os.environ.get("VAEDIAG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return exe if exe and os.access(exe, os.X_OK) else None


def png_size(path: Path) -> tuple[int, int]:
    head = Path(path).read_bytes()[:24]
    assert head[:8] == PNG_MAGIC and head[12:16] == b"IHDR", path
    return struct.unpack(">II", head[16:24])


class CDPError(RuntimeError):
    pass


class Chromium:
    """A headless Chromium and a minimal DevTools-protocol client over its pipe (stdlib only)."""

    def __init__(self, exe: str, profile: Path, log: Path):
        self.log = log
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()
        # Move the child's ends to fds >= 10 so that dup2 onto 3 and 4 cannot clobber one another.
        hi_r, hi_w = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_r, from_browser_w))
        os.close(to_browser_r)
        os.close(from_browser_w)

        def child_fds():  # runs in the child between fork and exec
            os.dup2(hi_r, 3)  # dup2 leaves the new fds inheritable
            os.dup2(hi_w, 4)

        self._log_file = open(log, "wb")
        try:
            self.proc = subprocess.Popen(
                [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
                preexec_fn=child_fds, close_fds=False)  # fds 3 and 4 must survive into the browser
        finally:
            os.close(hi_r)
            os.close(hi_w)
        self._ids = itertools.count(1)
        self._buf = b""
        self.events: list[dict] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("Browser.close")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log_file.close()

    def log_tail(self, n: int = 2000) -> str:
        self._log_file.flush()
        return self.log.read_bytes()[-n:].decode("utf-8", "replace")

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        msg_id = next(self._ids)
        msg = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        return msg_id

    def _next(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError(f"no DevTools message in time; Chromium log:\n{self.log_tail()}")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise CDPError(f"Chromium closed the pipe (exit {self.proc.poll()}); log:\n{self.log_tail()}")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = TIMEOUT_S) -> dict:
        msg_id = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._next(deadline)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, session: str | None = None, timeout: float = TIMEOUT_S) -> dict:
        seen = [e for e in self.events if e["method"] == method and e.get("sessionId") == session]
        deadline = time.monotonic() + timeout
        while not seen:
            msg = self._next(deadline)
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method and msg.get("sessionId") == session:
                    return msg["params"]
        return seen[0]["params"]


def problems(events: list[dict], session: str) -> list[str]:
    """Failed loads, script exceptions and console or log errors the page reported."""
    out = []
    for e in events:
        if e.get("sessionId") != session:
            continue
        m, p = e["method"], e.get("params", {})
        if m == "Network.loadingFailed":
            out.append(f"load failed ({p.get('type')}): {p.get('errorText')} {p.get('blockedReason') or ''}")
        elif m == "Network.responseReceived" and p.get("response", {}).get("status", 0) >= 400:
            out.append(f"HTTP {p['response']['status']}: {p['response'].get('url', '')[:100]}")
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(f"exception: {d.get('text')} {d.get('exception', {}).get('description', '')}")
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(f"log error ({p['entry'].get('source')}): {p['entry'].get('text')} {p['entry'].get('url', '')[:100]}")
    return out


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = chromium_path()
    if exe is None:
        why = ("no Chromium: install Debian's package (apt-get install --no-install-recommends chromium) "
               "or set VAEDIAG_CHROMIUM")
        if os.environ.get("CI") == "true":
            pytest.fail(why + " (CI=true: .ci/run must install it)")
        pytest.skip(why)
    return exe


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    run, figs = shared_run_with_figures(tmp_path_factory)
    html_path, _ = report.build_report(run, figures=figs)
    return html_path, figs


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    folder = tmp_path_factory.mktemp("chromium")
    with Chromium(chromium, folder / "profile", folder / "chromium.log") as b:
        yield b


class Page:
    """One tab showing ``url`` in a ``width`` x ``height`` CSS-pixel viewport (a phone when narrow)."""

    def __init__(self, browser: Chromium, url: str, width: int, height: int = 1000):
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.sid = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            browser.call(f"{domain}.enable", session=self.sid)
        browser.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                            "mobile": width < 600}, session=self.sid)
        nav = browser.call("Page.navigate", {"url": url}, session=self.sid)
        assert not nav.get("errorText"), nav
        browser.wait_event("Page.loadEventFired", session=self.sid)

    def eval(self, expression: str):
        result = self.browser.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                        "returnByValue": True}, session=self.sid)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"]["value"]

    def screenshot(self, path: Path, full: bool = False) -> Path:
        params = {"format": "png", "captureBeyondViewport": full}
        path.write_bytes(base64.b64decode(self.browser.call("Page.captureScreenshot", params, session=self.sid)["data"]))
        assert path.read_bytes()[:8] == PNG_MAGIC
        return path

    def problems(self) -> list[str]:
        self.eval("document.readyState")  # a round trip, so that the page's earlier events have arrived
        return problems(self.browser.events, self.sid)


@pytest.fixture(scope="module")
def pages(browser, built):
    url = built[0].resolve().as_uri()
    return {width: Page(browser, url, width) for width in (WIDE, NARROW)}


@pytest.fixture(scope="module")
def layouts(pages):
    return {width: page.eval(LAYOUT_JS) for width, page in pages.items()}


def test_every_image_in_report_html_loads_in_headless_chromium(pages, built, tmp_path):
    _, figs = built
    page = pages[WIDE]
    imgs = page.eval(IMAGES_JS)
    page.screenshot(tmp_path / "report.png")

    wide = sorted(name for name in figs if plots.wide_name(name) is None)  # narrow renderings: <source>s
    assert len(imgs) == len(wide) > 0, (len(imgs), wide)
    assert sorted(i["name"] for i in imgs) == wide
    broken = [i for i in imgs if not (i["complete"] and i["decoded"] and i["naturalWidth"] > 0
                                      and i["naturalHeight"] > 0)]
    assert not broken, f"images that failed to load: {broken}"
    for i in imgs:
        assert i["src"] == "data:image/png;base64,", i  # embedded, nothing fetched
        assert (i["naturalWidth"], i["naturalHeight"]) == png_size(figs[i["name"]]), i
        assert i["shownWidth"] > 0 and i["shownHeight"] > 0, f"image not displayed: {i}"
        assert i["attrWidth"] == round(i["naturalWidth"] / DISPLAY_SCALE), i  # 2x resolution
    for page in pages.values():
        assert not page.problems()


def test_at_1400_px_every_figure_is_shown_at_its_size_without_overflow(layouts):
    layout = layouts[WIDE]
    assert layout["scrollWidth"] <= WIDE, layout["scrollWidth"]
    for figure in layout["figures"]:  # half its pixels: the sizes the figures' fonts are made for (test_plots)
        assert figure["width"] == pytest.approx(figure["attrWidth"], abs=0.5), figure
    rows = {}
    for figure in layout["figures"]:
        rows.setdefault(round(figure["top"]), []).append(figure["name"])
    assert max(len(names) for names in rows.values()) >= 2, rows  # side by side where they fit
    assert not layout["small"], layout["small"]


def test_at_420_px_one_column_full_width_figures_and_tables_scroll_in_their_box(layouts):
    layout = layouts[NARROW]
    assert layout["scrollWidth"] <= NARROW and layout["clientWidth"] <= NARROW, layout["scrollWidth"]
    shown = [figure for figure in layout["figures"] if figure["outerWidth"] > 0]  # the overview is left out
    assert {f["name"] for f in layout["figures"]} - {f["name"] for f in shown} == {"overview"}
    tops = [round(figure["top"]) for figure in shown]
    assert len(tops) == len(set(tops)) > 0  # one figure per row
    for figure in shown:
        assert figure["outerWidth"] == pytest.approx(figure["room"], abs=1), figure  # the full width
        assert figure["left"] >= 0
    assert all(table["inBox"] and table["overflowX"] == "auto" and table["right"] <= NARROW
               for table in layout["tables"]), layout["tables"]
    assert any(table["boxScrollWidth"] > table["boxWidth"] for table in layout["tables"])  # wide ones scroll
    assert not layout["small"], layout["small"]


def test_tables_have_one_header_row_without_empty_cells(layouts):
    for table in layouts[WIDE]["tables"]:
        assert table["headRows"] in (0, 1) and table["emptyHeaders"] == 0, table


def test_quoted_numbers_and_column_headers_have_hover_texts(pages):
    titles = pages[WIDE].eval(TITLES_JS)
    assert len(titles["nums"]) >= 25
    for num in titles["nums"]:
        where = "reference row 'data'" if num["row"] == "data" else f"epoch {num['epoch']}"
        first = num["title"].split("\n")[0]
        assert first.startswith(f"{num['source']}, column {num['column']}, {where}"), num
        assert re.search(r": -?[\d.e+-]+$", first), num  # ends with the cell's value
        assert len(num["title"].split("\n")) == 2, num  # then what the column means
    headers = titles["headers"]
    assert len(headers) > 50
    assert not [h for h in headers if not h["title"].startswith(h["text"] + ": ")], "headers without a description"


def test_clicking_a_header_sorts_the_table_and_the_data_row_stays_last(pages):
    result = pages[WIDE].eval(SORT_JS)
    before, ascending, descending = result["before"], result["ascending"], result["descending"]
    assert [row[0] for row in before][-1] == "data" and [row[0] for row in before][:-1] == ["5", "30", "50"]
    values = [float(v) for _, v in before[:-1]]
    assert [float(v) for _, v in ascending[:-1]] == sorted(values) and ascending[-1][0] == "data"
    assert [float(v) for _, v in descending[:-1]] == sorted(values, reverse=True) and descending[-1][0] == "data"
    assert ascending != descending and result["sort"] == "descending"


def test_clicking_a_figure_opens_it_full_size_and_a_click_closes_it(pages):
    result = pages[WIDE].eval(ZOOM_JS)
    assert result["open"]["target"] and result["open"]["position"] == "fixed"
    assert result["open"]["width"] == result["open"]["natural"]  # every pixel of the PNG
    assert result["closedBy"] == "close"
    assert not result["closed"]["target"] and result["closed"]["position"] != "fixed"
