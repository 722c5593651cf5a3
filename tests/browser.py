"""Headless Chromium for the HTML tests: a screenshot, which fonts drew a page's text, and
how its text broke into lines.

The fonts are asked of the browser itself over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: JSON messages ending in NUL on file descriptors 3 and 4), no
extra package: ``CSS.getPlatformFontsForNode`` names the fonts that drew an element's own
text and how many glyphs each drew, the truth about boxes in place of characters.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")
#: every font face of the page loaded and the page laid out again with them (a face that is
#: only a fallback, as for monospace text, starts loading when layout first needs it)
FONTS_LOADED = """Promise.all(Array.from(document.fonts, f => f.load()))
  .then(() => document.fonts.ready)
  .then(() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done))))
  .then(() => document.fonts.size)"""
#: the text of every element of a page's body, its own text nodes only, in document order
OWN_TEXTS = """JSON.stringify(Array.from(document.querySelectorAll('body *'), e =>
  Array.from(e.childNodes).filter(n => n.nodeType === 3).map(n => n.data).join('')))"""


def cjk(text: str) -> int:
    """How many characters of ``text`` are Chinese (ideographs, CJK punctuation, full-width
    forms): what no Latin font draws, so on a machine without a CJK font they are boxes."""
    return sum("\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"
               or "\uff00" <= ch <= "\uffef" for ch in text)


def chromium() -> str:
    """The browser, or the test is skipped saying how to get it."""
    found = shutil.which("chromium") or next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
    if found is None:
        pytest.skip("headless Chromium not found (Debian: apt-get install chromium; "
                    "`make sysdeps` does it): the HTML is not checked in a browser")
    return found


def screenshot(page: Path, png: Path, *, width: int, height: int, profile: Path) -> None:
    subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                    f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)


@dataclass(frozen=True)
class Drawn:
    """An element's own text and the fonts that drew it: family → glyphs, for the fonts the
    page carries (``custom``) and those of the machine (``system``)."""

    text: str
    custom: dict[str, int]
    system: dict[str, int]


@contextlib.contextmanager
def _page(page: Path, *, profile: Path, timeout_s: float,
          width: int | None = None) -> Iterator[tuple[_DevTools, str]]:
    """Headless Chromium with ``page`` loaded and its fonts ready (``width``: the window's
    width in CSS pixels, else Chromium's own), its DevTools and the page's session."""
    cmd_read, cmd_write = os.pipe()
    out_read, out_write = os.pipe()

    def pipes_as_3_and_4() -> None:  # in the child: what Chromium reads (3) and writes (4)
        reads, writes = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (cmd_read, out_write))
        os.dup2(reads, 3)  # inheritable, unlike the pipe's own descriptors
        os.dup2(writes, 4)

    browser = subprocess.Popen([chromium(), *CHROMIUM_FLAGS, "--remote-debugging-pipe",
                                f"--user-data-dir={profile}", "about:blank"],
                               preexec_fn=pipes_as_3_and_4, close_fds=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(cmd_read)
    os.close(out_write)
    devtools = _DevTools(cmd_write, out_read, deadline=time.monotonic() + timeout_s)
    try:
        target = next(t["targetId"] for t in devtools.call("Target.getTargets")["targetInfos"]
                      if t["type"] == "page")
        session = devtools.call("Target.attachToTarget",
                                {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "DOM", "CSS"):
            devtools.call(f"{domain}.enable", session=session)
        if width is not None:
            devtools.call("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": 900, "deviceScaleFactor": 1,
                           "mobile": False}, session=session)
        devtools.call("Page.navigate", {"url": page.as_uri()}, session=session)
        devtools.wait_for("Page.loadEventFired")
        devtools.evaluate(FONTS_LOADED, session)
        yield devtools, session
        devtools.call("Browser.close")
        browser.wait(timeout=30)
    finally:
        if browser.poll() is None:
            browser.kill()
            browser.wait()
        os.close(cmd_write)
        os.close(out_read)


def fonts_drawn(page: Path, *, profile: Path, timeout_s: float = 60.0) -> list[Drawn]:
    """Every element of ``page`` with text of its own, with the fonts that drew that text."""
    with _page(page, profile=profile, timeout_s=timeout_s) as (devtools, session):
        texts = json.loads(devtools.evaluate(OWN_TEXTS, session))
        root = devtools.call("DOM.getDocument", session=session)["root"]["nodeId"]
        nodes = devtools.call("DOM.querySelectorAll", {"nodeId": root, "selector": "body *"},
                              session=session)["nodeIds"]
        assert len(nodes) == len(texts), (len(nodes), len(texts))
        drawn = []
        for node, text in zip(nodes, texts, strict=True):
            if not text.strip():
                continue
            fonts = devtools.call("CSS.getPlatformFontsForNode", {"nodeId": node},
                                  session=session)["fonts"]
            custom: dict[str, int] = {}
            system: dict[str, int] = {}
            for f in fonts:
                into = custom if f["isCustomFont"] else system
                into[f["familyName"]] = into.get(f["familyName"], 0) + f["glyphCount"]
            drawn.append(Drawn(text, custom, system))
    return drawn


#: per element matching the selector, its text as laid out: one string per line drawn
LINES_DRAWN = """JSON.stringify(Array.from(document.querySelectorAll(%s), el => {
  const lines = [];
  let top = null;
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const box = range.getClientRects()[0];
      if (!box) continue;
      if (top === null || Math.abs(box.top - top) > box.height / 2) {
        lines.push("");
        top = box.top;
      }
      lines[lines.length - 1] += node.data[i];
    }
  }
  return lines;
}))"""


def lines_drawn(page: Path, selector: str, *, width: int, profile: Path,
                timeout_s: float = 60.0) -> list[list[str]]:
    """The text of every element of ``page`` matching ``selector`` as Chromium lays it out
    in a window ``width`` CSS pixels wide: per element, its lines."""
    with _page(page, profile=profile, timeout_s=timeout_s, width=width) as (devtools, session):
        return list(json.loads(devtools.evaluate(LINES_DRAWN % json.dumps(selector), session)))


class _DevTools:
    """Requests and answers over the pipe (each message JSON, ending in NUL)."""

    def __init__(self, write_fd: int, read_fd: int, *, deadline: float) -> None:
        self.write_fd, self.read_fd, self.deadline = write_fd, read_fd, deadline
        self.buffer = b""
        self.events: list[str] = []
        self.last_id = 0

    def call(self, method: str, params: dict[str, Any] | None = None, *,
             session: str | None = None) -> dict[str, Any]:
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._next()
            if answer.get("id") == self.last_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return dict(answer["result"])

    def evaluate(self, expression: str, session: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, session=session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, event: str) -> None:
        while event not in self.events:
            self._next()

    def _next(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer over the DevTools pipe")
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        if "method" in message:
            self.events.append(message["method"])
        return message
