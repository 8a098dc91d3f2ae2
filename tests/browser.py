"""A page opened in headless Chromium over the DevTools protocol (a pipe, no extra package): what the console and the
network said, and facts read from the rendered document. Tests skip where no Chromium is installed."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# facts of the rendered page, evaluated in it: document order of the first figure and table, images that did not load
FACTS = """JSON.stringify((() => {
  const figure = document.querySelector("figure img, img");
  const table = document.querySelector("table");
  const before = figure && table ? Boolean(figure.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING)
                                 : Boolean(figure);
  const broken = Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
  const timing = performance.getEntriesByType("navigation")[0];
  return {figure_before_table: before, images: document.images.length, broken_images: broken,
          tables: document.querySelectorAll("table").length, rows: document.querySelectorAll("tr").length,
          load_ms: timing ? timing.loadEventEnd - timing.startTime : null,
          first_section: (document.querySelector("section") || {}).id || null};
})())"""


def find_browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


@dataclass
class Rendered:
    errors: list[str]  # console errors, uncaught exceptions, failed loads (Log entries of level error)
    facts: dict


def render(url: str, *, browser: str | None = None, timeout: float = 60.0, width: int = 1400,
           height: int = 900) -> Rendered:
    """Open url in a fresh headless browser, wait for its load event, return what went wrong and FACTS."""
    browser = browser or find_browser()
    if browser is None:
        raise FileNotFoundError(f"no browser found (looked for {', '.join(BROWSERS)})")
    # above fd 4, so that moving them onto 3 and 4 in the child cannot overwrite one with the other
    to_browser_read, to_browser_write, from_browser_read, from_browser_write = map(high_fd, (*os.pipe(), *os.pipe()))

    def pipes_as_3_and_4() -> None:  # --remote-debugging-pipe reads fd 3 and writes fd 4
        os.dup2(to_browser_read, 3)
        os.dup2(from_browser_write, 4)

    process = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-pipe",
         f"--window-size={width},{height}", "about:blank"],
        pass_fds=(3, 4), preexec_fn=pipes_as_3_and_4, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    os.close(to_browser_read)
    os.close(from_browser_write)
    writer = os.fdopen(to_browser_write, "wb")
    deadline = time.monotonic() + timeout
    buffer, events, counter = b"", [], [0]

    def receive() -> dict:
        nonlocal buffer
        while b"\0" not in buffer:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: no answer from the browser in {timeout:.0f} s")
            chunk = os.read(from_browser_read, 1 << 16)
            if not chunk:
                raise EOFError("the browser closed its DevTools pipe")
            buffer += chunk
        message, buffer = buffer.split(b"\0", 1)
        return json.loads(message)

    def call(method: str, params: dict | None = None, session: str | None = None) -> dict:
        counter[0] += 1
        message = {"id": counter[0], "method": method, "params": params or {}, **({"sessionId": session} if session
                                                                                   else {})}
        writer.write(json.dumps(message).encode() + b"\0")
        writer.flush()
        while True:
            answer = receive()
            if answer.get("id") == counter[0]:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            events.append(answer)

    try:
        target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            call(f"{domain}.enable", session=session)
        call("Page.navigate", {"url": url}, session=session)
        while not any(event.get("method") == "Page.loadEventFired" for event in events):
            events.append(receive())
        facts = json.loads(call("Runtime.evaluate", {"expression": FACTS, "returnByValue": True},
                                session=session)["result"]["value"])
    finally:
        process.kill()
        process.wait()
        writer.close()
        os.close(from_browser_read)
    return Rendered(errors=[text for text in map(error_text, events) if text], facts=facts)


def high_fd(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


def error_text(event: dict) -> str:
    """The event as one line if it reports an error, else ""."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        return "console: " + " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"])
    if method == "Runtime.exceptionThrown":
        return "exception: " + params["exceptionDetails"].get("text", "")
    if method == "Log.entryAdded" and params["entry"].get("level") == "error":
        return f"log: {params['entry'].get('text', '')} {params['entry'].get('url', '')}"
    return ""
