"""The officers' page in a real browser: headless Chromium (Debian's ``chromium``) driven over the
Chrome DevTools Protocol with ``websockets``. Log in, see a new flag arrive live, claim it, confirm
and then correct the trailer body type, reject the read with a correction, direct it to search
and dispose of it. Screenshots go to the test's tmp dir and to ``/tmp/hgv-ui/``. Skipped, with
the reason, when Chromium is not installed."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db import repository as repo
from api.db.models import FlagStatus, Outcome
from api.db.session import session_scope

SHOTS = Path("/tmp/hgv-ui")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    """A minimal CDP client for one page target (synchronous)."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self._connection = connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=20)
        self.ws = self._connection.__enter__()
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        self._connection.__exit__(None, None, None)

    def send(
        self, method: str, params: dict[str, Any] | None = None, timeout_s: float = 30
    ) -> dict[str, Any]:
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout_s
        while True:
            raw = self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            msg = json.loads(raw)
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            if "method" in msg:
                self.events.append(msg)

    def js(self, expression: str) -> Any:
        r = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expression: str, timeout_s: float = 10, what: str = "") -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                value = self.js(expression)
            except RuntimeError:  # e.g. the element is not there yet, or the page is navigating
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or expression}")
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """A real mouse click at the centre of the element (scrolled into view)."""
        self.wait(f"!!document.querySelector({json.dumps(selector)})", what=selector)
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
            )

    def type(self, selector: str, text: str, clear: bool = True) -> None:
        """Focus the field (by clicking it) and type ``text`` as keyboard input."""
        self.click(selector)
        if clear:
            self.js(f"document.querySelector({json.dumps(selector)}).select()")
            self.send(
                "Input.dispatchKeyEvent",
                {"type": "keyDown", "key": "Backspace", "code": "Backspace", "windowsVirtualKeyCode": 8},
            )
            self.send(
                "Input.dispatchKeyEvent",
                {"type": "keyUp", "key": "Backspace", "code": "Backspace", "windowsVirtualKeyCode": 8},
            )
        self.send("Input.insertText", {"text": text})

    def text(self, selector: str) -> str:
        value = self.js(f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''")
        return str(value)

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


@pytest.fixture
def browser() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Headless Chromium with a fresh profile; yields the DevTools HTTP base URL."""
    exe = _chromium()
    if exe is None:
        pytest.skip(f"no Chromium ({', '.join(CHROMIUM_NAMES)}) on PATH: apt-get install -y chromium")
    profile = Path(tempfile.mkdtemp(prefix="hgv-chromium-"))
    # Chromium makes its own folders (its singleton socket's) in TMPDIR: keep them in the profile.
    scratch = profile / "tmp"
    scratch.mkdir()
    proc = subprocess.Popen(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--window-size=1280,1000",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start (exit code {proc.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _page(devtools: str) -> Page:
    deadline = time.monotonic() + 20
    while True:
        targets = httpx.get(f"{devtools}/json/list", timeout=5).json()
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return Page(pages[0]["webSocketDebuggerUrl"])
        if time.monotonic() > deadline:
            raise RuntimeError("no page target in Chromium")
        time.sleep(0.1)


@pytest.mark.slow
def test_officer_works_a_flag_in_the_browser(
    browser: tuple[str, subprocess.Popen[bytes]], live_server: Any, tmp_path: Path
) -> None:
    devtools, _proc = browser
    env = live_server.env
    page = _page(devtools)
    shots: list[Path] = []

    def shot(name: str) -> None:
        path = tmp_path / f"{name}.png"
        page.screenshot(path)
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SHOTS / f"{name}.png")
        shots.append(path)

    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.send("Page.navigate", {"url": live_server.url + "/"})
        page.wait("document.readyState === 'complete'", what="page load")
        page.wait("!document.getElementById('login-view').hidden", what="login form")
        shot("01-login")

        # wrong password: stays on the log-in form with the reason
        page.type("#login-name", "officer")
        page.type("#login-password", "not-the-password")
        page.click("#login-submit")
        page.wait("document.getElementById('login-error').textContent.includes('wrong name or password')")

        page.type("#login-password", "officer-password")
        page.click("#login-submit")
        page.wait("!document.getElementById('app-view').hidden", what="the queue after log-in")
        page.wait(
            "document.getElementById('live-state').textContent === 'live'", what="live stream connected"
        )
        assert "officer (officer)" in page.text("#who-name")
        shot("02-queue-empty")
        # the stream restarted (as after a dropped connection): lane health still polled (5 s)
        lanes = "performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/v1/lanes')).length"
        before = page.js(f"(() => {{ startLive(); return {lanes}; }})()")
        page.wait(f"{lanes} > {before}", timeout_s=8, what="lane health polled after the stream restarted")

        # a passage is stored: its flag appears live, without reloading
        stored = time.monotonic()
        outcome = env.passage("AB12CDK", body="curtainsider")
        flag_id = outcome.flag_id
        card = f".flag-card[data-flag-id='{flag_id}']"
        page.wait(
            f"!!document.querySelector({json.dumps(card)})", timeout_s=5, what="the new flag in the queue"
        )
        arrived = time.monotonic() - stored
        assert arrived < 2.0, f"the flag took {arrived:.2f} s to appear"
        assert "AB12CDK" in page.text(card) and "matches action list" in page.text(card)
        shot("03-new-flag-live")

        page.click(card)
        page.wait(
            "document.getElementById('detail-mark') && "
            "document.getElementById('detail-mark').textContent === 'AB12CDK'"
        )
        page.wait(
            "[...document.querySelectorAll('img.crop')].length === 2 && "
            "[...document.querySelectorAll('img.crop')].every(i => i.complete && i.naturalWidth > 0)",
            what="plate and trailer crops loaded",
        )
        assert "curtainsider" in page.text("#detail-body")
        assert "AB12CDE" in page.text("#detail-matches") and "Acme Ltd" in page.text("#detail-matches")
        assert page.js("[...document.querySelectorAll('#actions button')].map(b => b.dataset.action)") == [
            "claim"
        ]
        shot("04-flag-detail")

        page.click("[data-action='claim']")
        page.wait("document.getElementById('detail-status').textContent === 'Claimed'", what="claimed")
        assert page.js("[...document.querySelectorAll('#actions button')].map(b => b.dataset.action)") == [
            "release",
            "verify_read",
            "reject_read",
        ]

        # the trailer: confirm the machine's body type, then correct it (labels for the model team)
        assert "not checked" in page.text("#body-feedback")
        page.click("#body-confirm")
        page.wait(
            "document.getElementById('body-feedback').textContent"
            ".includes('Officer confirmed: curtainsider')",
            what="body type confirmed",
        )
        page.js(
            "(() => { const s = document.getElementById('body-select'); s.value = 'tilt';"
            " s.dispatchEvent(new Event('change')); })()"
        )
        page.click("#body-correct")
        page.wait(
            "document.getElementById('body-feedback').textContent.includes('Officer corrected to: tilt')",
            what="body type corrected",
        )
        assert "curtainsider → tilt" in page.text(".history")
        shot("04b-body-type-corrected")

        page.click("[data-action='reject_read']")
        page.wait("!!document.getElementById('reject-form')")
        for kind in ("keyDown", "keyUp"):  # Escape closes the form, as Cancel does
            page.send(
                "Input.dispatchKeyEvent",
                {"type": kind, "key": "Escape", "code": "Escape", "windowsVirtualKeyCode": 27},
            )
        page.wait("!document.getElementById('reject-form')", what="the form closed by Escape")
        page.click("[data-action='reject_read']")
        page.wait("!!document.getElementById('reject-form')")
        page.type("#reject-reason", "last letter is E on the plate crop")
        page.type("#reject-mark", "AB12 CDE")
        shot("05-reject-form")
        page.click("#reject-submit")
        page.wait("document.getElementById('detail-status').textContent === 'Read rejected'", what="rejected")
        page.wait("document.getElementById('detail-mark').textContent === 'AB12CDE'")
        assert "officer's correction" in page.text("#detail-matches")
        shot("06-read-rejected-rematched")

        page.click("[data-action='direct_to_search']")
        page.wait("document.getElementById('detail-status').textContent === 'Directed to search'")
        page.click("[data-action='dispose']")
        page.wait("!!document.getElementById('dispose-form')")
        page.js(
            "(() => { const s = document.getElementById('dispose-outcome'); s.value = 'entrants_found';"
            " s.dispatchEvent(new Event('change')); })()"
        )
        page.type("#dispose-entrants", "2")
        page.click("#dispose-methods input[value='co2_probe']")
        page.click("#dispose-methods input[value='dog']")
        page.type("#dispose-note", "two found in the load")
        shot("07-dispose-form")
        page.click("#dispose-submit")
        page.wait("document.getElementById('detail-status').textContent === 'Disposed'", what="disposed")
        page.wait(f"!document.querySelector({json.dumps(card)})", what="the flag leaving the queue")
        shot("08-disposed")

        # the passage search finds it by the machine's read
        page.click("#tab-search")
        page.type("#search-mark", "ab12cdk")
        page.click("#search-submit")
        page.wait(
            "document.querySelectorAll('#search-table tbody tr').length === 1", what="one search result"
        )
        shot("09-passage-search")
    finally:
        events = list(page.events)
        page.close()

    with session_scope(live_server.state.engine) as s:
        flag = repo.get_flag(s, flag_id)
        assert flag is not None
        assert flag.status == FlagStatus.DISPOSED and flag.outcome == Outcome.ENTRANTS_FOUND
        assert flag.entrants_found == 2 and flag.detection_methods == ["co2_probe", "dog"]
        assert flag.corrected_mark == "AB12CDE" and flag.read_mark == "AB12CDK"
        (passage,) = flag.passages
        assert passage.body_type == "curtainsider" and passage.body_type_officer == "tilt"
        assert passage.body_feedback_by == "officer"
        rows = [a for a in repo.audit_entries(s) if a.actor == "officer"]
        actions = [a.action for a in rows]
        for expected in (
            "auth.login",
            "flag.stream",
            "flag.view",
            "evidence.view",
            "flag.claim",
            "flag.confirm_body",
            "flag.correct_body",
            "flag.reject_read",
            "flag.dispose",
        ):
            assert expected in actions
        assert all("HeadlessChrome" in (a.user_agent or "") for a in rows)

    # nothing loaded from anywhere but the service; no script errors or CSP violations
    urls = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    assert urls and all(u.startswith((live_server.url, "data:")) for u in urls), urls
    errors = [e for e in events if e["method"] == "Runtime.exceptionThrown"]
    assert not errors, errors
    logged = [
        e["params"]["entry"]
        for e in events
        if e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
    ]
    unexpected = [e for e in logged if "401" not in e.get("text", "")]  # the log-in page's first /me probe
    assert not unexpected, unexpected
    assert len(shots) == 10 and all(p.stat().st_size > 1000 for p in shots)


@pytest.mark.slow
def test_swagger_ui_renders_offline(browser: tuple[str, subprocess.Popen[bytes]], live_server: Any) -> None:
    """``/docs`` draws the API's operations in Chromium, and every request the page makes goes to
    this service (no CDN: the lane network may have no internet)."""
    devtools, _proc = browser
    page = _page(devtools)
    try:
        for domain in ("Page", "Runtime", "Network"):
            page.send(f"{domain}.enable")
        page.send("Page.navigate", {"url": live_server.url + "/docs"})
        page.wait("document.querySelectorAll('.opblock').length > 20", timeout_s=30, what="operations")
        assert "/v1/lanes/{lane_id}/frames" in page.text("body")
        sent = [e for e in page.events if e.get("method") == "Network.requestWillBeSent"]
        urls = [e["params"]["request"]["url"] for e in sent]
        assert urls and all(u.startswith((live_server.url, "data:")) for u in urls), urls
    finally:
        page.close()
