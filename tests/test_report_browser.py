"""report.html rendered in a real browser: headless Chromium shows every embedded figure, and nothing fails.

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

import pytest

from vaediag import report

from fake_run import shared_run_with_figures

pytestmark = pytest.mark.browser

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TIMEOUT_S = 60.0
# As root Chromium needs --no-sandbox; without the networking flags it keeps trying (and failing) to reach
# Google's hosts from a closed network. A fresh --user-data-dir per run is added by Chromium.__init__.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
    "--mute-audio", "--hide-scrollbars", "--window-size=1280,1024", "--remote-debugging-pipe",
)

# Every <img>, once each has either decoded or failed: img.decode() rejects for a broken image.
IMAGES_JS = """(async () => {
  const imgs = Array.from(document.images);
  const decoded = await Promise.all(imgs.map(i => i.decode().then(() => true, () => false)));
  return imgs.map((i, k) => {
    const box = i.getBoundingClientRect();
    return {name: i.dataset.name || null, src: i.currentSrc.slice(0, 22), complete: i.complete,
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


def test_every_image_in_report_html_loads_in_headless_chromium(chromium, built, tmp_path):
    html_path, figs = built
    with Chromium(chromium, tmp_path / "profile", tmp_path / "chromium.log") as browser:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            browser.call(f"{domain}.enable", session=sid)
        nav = browser.call("Page.navigate", {"url": html_path.resolve().as_uri()}, session=sid)
        assert not nav.get("errorText"), nav
        browser.wait_event("Page.loadEventFired", session=sid)
        result = browser.call("Runtime.evaluate", {"expression": IMAGES_JS, "awaitPromise": True,
                                                   "returnByValue": True}, session=sid)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        imgs = result["result"]["value"]
        shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=sid)
        # A last round trip, so that events the page sent before it are in browser.events.
        browser.call("Runtime.evaluate", {"expression": "document.readyState", "returnByValue": True}, session=sid)
        issues = problems(browser.events, sid)

    screenshot = tmp_path / "report.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    assert screenshot.read_bytes()[:8] == PNG_MAGIC

    assert len(imgs) == len(figs) > 0, (len(imgs), sorted(figs))
    assert sorted(i["name"] for i in imgs) == sorted(figs)
    broken = [i for i in imgs if not (i["complete"] and i["decoded"] and i["naturalWidth"] > 0
                                      and i["naturalHeight"] > 0)]
    assert not broken, f"images that failed to load: {broken}"
    for i in imgs:
        assert i["src"] == "data:image/png;base64,", i  # embedded, nothing fetched
        assert (i["naturalWidth"], i["naturalHeight"]) == png_size(figs[i["name"]]), i
        assert i["shownWidth"] > 0 and i["shownHeight"] > 0, f"image not displayed: {i}"
    assert not issues, issues
