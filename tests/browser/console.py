"""Driving the web console in Debian's Chromium with Playwright: launching it, signing in, screenshots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, ViewportSize, expect, sync_playwright

from bench.serving import ServedWhisklet
from tests.integration.actions import namespace_client
from tests.security.client_hostile import credentials_of

CHROMIUM = "/usr/bin/chromium"
# Taken out of the environment when the tests are collected, before any server starts: `whisklet serve`
# refuses a WHISKLET_* variable that names no configuration key.
SCREENSHOT_DIR = os.environ.pop("WHISKLET_SCREENSHOT_DIR", None)
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}

# No name resolves but 127.0.0.1 and every background service is off: the browser talks to the gateway only.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--disable-breakpad", "--no-pings", "--no-first-run", "--disable-domain-reliability",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for one test module (a module imports this fixture to use it)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def tenant_namespace(whisklet: ServedWhisklet, prefix: str) -> Iterator[httpx.Client]:
    """A client of a new namespace, so that the console lists only what one test module creates."""
    with namespace_client(whisklet, prefix) as client:
        yield client


def key_of(client: httpx.Client) -> str:
    """The `uuid:key` a client signs its requests with, as a user would paste it from .wskprops."""
    return ":".join(credentials_of(client))


class ConsolePage:
    """One tab on the console, recording every URL it requests and every script error it hits."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.base_url = base_url
        self.page: Page = browser.new_page(viewport=LAPTOP)
        self.requested: list[str] = []
        self.script_errors: list[str] = []
        self.page.on("request", self._requested)
        self.page.on("pageerror", lambda error: self.script_errors.append(str(error)))
        self.page.set_default_timeout(30_000)
        # What the page shows after an invoke may wait for a cold start on a busy machine: a bound, not a time
        # asserted (Playwright's own default for `expect` is 5 s).
        expect.set_options(timeout=30_000)

    def _requested(self, request: Request) -> None:
        self.requested.append(request.url)

    def open(self, hash_: str = "") -> Page:
        self.page.goto(f"{self.base_url}/console{hash_}")
        return self.page

    def sign_in(self, key: str) -> None:
        page = self.open()
        page.get_by_label("Namespace key (uuid:key)").fill(key)
        page.get_by_role("button", name="Sign in").click()

    def go(self, hash_: str) -> Page:
        """Another view of the signed-in console, as a click on a link would show it."""
        self.page.evaluate("hash => { location.hash = hash; }", hash_)
        return self.page


def screenshot_dir(default: Path) -> Path:
    chosen = Path(SCREENSHOT_DIR or default)
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen


def screenshots(page: Page, directory: Path, view: str) -> None:
    """The current view at laptop and phone size: `<view>-1280x800.png` and `<view>-390x844.png`."""
    for size in (LAPTOP, PHONE):
        page.set_viewport_size(size)
        page.screenshot(path=directory / f"{view}-{size['width']}x{size['height']}.png")
    page.set_viewport_size(LAPTOP)
