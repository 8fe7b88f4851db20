"""A browser using web actions: headless Chromium opens a form served by one action, submits it to another
and reads the page that comes back. Driven over the DevTools protocol on 127.0.0.1, nothing else."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.integration.actions import NS, unique

CHROMIUM = shutil.which("chromium")

# No name resolves except 127.0.0.1, and every background service is off: the browser talks to the
# gateway and nothing else.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-breakpad", "--no-pings",
    "--no-first-run", "--no-default-browser-check", "--disable-domain-reliability",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
]

FORM = """function main(params) {
  return {body: `<!doctype html><html><head><title>Sign the guest book</title></head><body>
    <form method="post" action="${params.target}">
      <label>Name <input name="name"></label>
      <button type="submit">Sign</button>
    </form></body></html>`};
}"""

THANKS = """function main(params) {
  const name = String(params.name).replace(/[<>&"]/g, '');
  return {headers: {'Content-Type': 'text/html'},
          body: `<!doctype html><html><body><h1 id="greeting">Thank you, ${name}!</h1>
                 <p id="how">${params.__ow_method} ${params.__ow_headers['content-type']}</p></body></html>`};
}"""


class DevTools:
    """One page target over the Chrome DevTools protocol."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.last_id = 0

    def call(self, method: str, **params: object) -> dict:
        self.last_id += 1
        self.socket.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:  # events arrive in between; only the answer matters here
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 30.0) -> object:
        """The first truthy value of `expression`, evaluated until the page (re)loads far enough."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # the page navigated while evaluating
                value = None
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"page never satisfied {expression!r}; it shows {self.evaluate('location.href')}")


@pytest.fixture(scope="module")
def browser() -> Iterator[DevTools]:
    if CHROMIUM is None:
        if os.environ.get("WHISKLET_REQUIRE_DOCKER"):
            pytest.fail("chromium is not installed; scripts/setup installs it (Debian's chromium package)")
        pytest.skip("chromium is not installed; run scripts/setup")
    profile = tempfile.mkdtemp(prefix="whisklet-chromium-")
    process = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        port = _devtools_port(Path(profile), process)
        pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(target for target in pages if target["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as socket:
            devtools = DevTools(socket)
            devtools.call("Page.enable")
            yield devtools
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the browser and its renderers: the group it leads
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path, process: subprocess.Popen) -> int:
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if active.exists() and active.read_text().strip():
            return int(active.read_text().split()[0])
        time.sleep(0.1)
    raise RuntimeError(f"chromium did not open its DevTools port (exit code {process.poll()})")


def test_browser_submits_a_form_served_by_one_web_action_to_another(whisklet, wsk, browser):
    thanks, form = unique("thanks"), unique("form")
    web = [{"key": "web-export", "value": True}]
    for name, code, parameters in ((thanks, THANKS, []), (form, FORM, [{"key": "target", "value": thanks}])):
        response = wsk.put(f"{NS}/actions/{name}", json={
            "exec": {"kind": "nodejs:default", "code": code}, "parameters": parameters, "annotations": web})
        assert response.status_code == 200, response.text

    browser.call("Page.navigate", url=f"{whisklet.url}/api/v1/web/guest/default/{form}")
    assert browser.wait_for("document.title") == "Sign the guest book"
    browser.evaluate("document.querySelector('input[name=name]').value = 'Ada Lovelace'")
    browser.evaluate("document.querySelector('button[type=submit]').click()")

    greeting = browser.wait_for("document.querySelector('#greeting') && document.querySelector('#greeting').textContent")
    assert greeting == "Thank you, Ada Lovelace!"
    assert browser.evaluate("document.querySelector('#how').textContent") == "post application/x-www-form-urlencoded"
    assert browser.evaluate("location.pathname") == f"/api/v1/web/guest/default/{thanks}"
