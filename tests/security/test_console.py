"""The web console against hostile tenants and clients: its headers, its asset route, tenant text, the key.

Everything a tenant controls reaches the console as data (action results, log lines, parameters): it must be
shown as text, never run. The asset route must never answer with a file outside the console's index, however
the path is spelled. The namespace key must never appear in a URL.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, expect
from starlette.applications import Starlette
from starlette.middleware import Middleware

from bench.serving import ServedWhisklet
from gateway.console.files import load_console_files
from gateway.console.routes import routes
from gateway.edge.envelope import RequestEnvelope
from tests.browser.console import ConsolePage, key_of, tenant_namespace
from tests.browser.console import browser as console_browser
from tests.integration.actions import NS, put_action, unique
from tests.integration.events import put
from tests.security.client_hostile import raw_exchange

pytestmark = pytest.mark.docker

# Each one sets `window.pwned` if the page ever treats it as markup.
HOSTILE = [
    "<script>window.pwned = 'script'</script>",
    '"><img src=x onerror="window.pwned = \'img\'">',
    "<svg onload=\"window.pwned = 'svg'\"></svg>",
    "javascript:window.pwned='link'",
]
LOGGER = """function main(params) {
  for (const line of params.lines) console.log(line);
  return { echoed: params.lines };
}"""


browser = console_browser  # a fixture


@pytest.fixture(scope="module")
def tenant(whisklet: ServedWhisklet) -> Iterator[httpx.Client]:
    yield from tenant_namespace(whisklet, "console-hostile")


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/js/main.js", "/console/console.css",
                                  "/console/modules/@codemirror/view/dist/index.js", "/console/no-such-file.js"])
def test_every_console_answer_carries_the_csp_nosniff_and_no_framing(whisklet: ServedWhisklet, path: str) -> None:
    answer = httpx.get(whisklet.url + path)
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


TRAVERSALS = [
    "/console/../gateway/app.py", "/console/../../../../etc/passwd", "/console/js/../../files.py",
    "/console/%2e%2e/files.py", "/console/%2E%2E/%2E%2E/pyproject.toml", "/console/..%2f..%2fpyproject.toml",
    "/console/%2e%2e%2f%2e%2e%2fapp.py", "/console/modules/..%2f..%2ffiles.py", "/console/js/..%5c..%5cfiles.py",
    "/console/%252e%252e/files.py", "/console/modules/%2e%2e/package.json", "/console/modules/../package-lock.json",
    "/console//etc/passwd", "/console/%2fetc%2fpasswd", "/console/index.html", "/console/files.py",
    "/console/js/main.js%00.py", "/console/modules/@codemirror/view/package.json",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_spelling_of_a_path_reaches_a_file_outside_the_console(whisklet: ServedWhisklet, path: str) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    answer = raw_exchange(whisklet.port, request)
    assert answer.status in (400, 404), (path, answer.status)
    for secret in (b"root:x:0:0", b"def ", b"[project]", b"lockfileVersion", b'"name":'):
        assert secret not in answer.body


async def test_a_symlink_among_the_assets_is_never_served(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the operator's secret")
    assets = tmp_path / "assets"
    (assets / "js").mkdir(parents=True)
    (assets / "index.html").write_text("<!doctype html><!-- import map -->")
    os.symlink(secret, assets / "js" / "secret.js")
    os.symlink(tmp_path, assets / "up")
    files = load_console_files(assets, tmp_path / "no-modules")
    app = Starlette(routes=routes(files), middleware=[Middleware(RequestEnvelope)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console") as client:
        for path in ("/console/js/secret.js", "/console/up/secret.txt", "/console/up/assets/index.html"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert b"operator's secret" not in answer.content


def test_names_with_markup_are_refused_by_the_api_so_only_data_can_carry_it(tenant: httpx.Client) -> None:
    for name in HOSTILE[:2]:
        body = {"exec": {"kind": "nodejs:default", "code": "x"}}
        answer = tenant.put(f"{NS}/actions/{quote(name, safe='')}", json=body)
        assert answer.status_code in (400, 404), answer.text


def test_markup_in_results_logs_and_parameters_is_shown_as_text_and_never_runs(
    browser: Browser, whisklet: ServedWhisklet, tenant: httpx.Client
) -> None:
    action, trigger, package = unique("hostile"), unique("hostile"), unique("hostile")
    put_action(tenant, action, LOGGER, parameters=[{"key": "lines", "value": HOSTILE}])
    put(tenant, "triggers", trigger, {"parameters": [{"key": h, "value": h} for h in HOSTILE]})
    put(tenant, "packages", package, {"parameters": [{"key": "markup", "value": HOSTILE}]})
    tab = ConsolePage(browser, whisklet.url)
    tab.sign_in(key_of(tenant))
    page = tab.page
    expect(page.get_by_role("heading", name="Actions")).to_be_visible()

    tab.go(f"#/actions/{action}")
    page.get_by_role("button", name="Invoke").click()
    outcome = page.locator("#invoke-outcome")
    expect(outcome.get_by_role("list", name="Log lines")).to_contain_text(HOSTILE[0])
    for text in HOSTILE:
        expect(outcome.get_by_role("list", name="Log lines")).to_contain_text(text)
        expect(outcome).to_contain_text(json.dumps(text)[1:-1].replace('\\"', '"'))
    activation = outcome.get_by_role("link").first.inner_text()
    tab.go(f"#/activations/{activation}")
    expect(page.get_by_role("list", name="Log lines")).to_contain_text(HOSTILE[1])
    tab.go(f"#/triggers/{trigger}")
    expect(page.locator("main")).to_contain_text("window.pwned = 'svg'")
    tab.go(f"#/packages/{package}")
    expect(page.locator("main")).to_contain_text("onerror")

    assert page.evaluate("window.pwned") is None
    assert page.locator("main img, main script, main svg[onload]").count() == 0
    assert tab.script_errors == []
    page.close()


def test_the_key_never_appears_in_a_url_nor_outlives_the_session(
    browser: Browser, whisklet: ServedWhisklet, tenant: httpx.Client
) -> None:
    key = key_of(tenant)
    uuid, secret = key.split(":")
    encoded = base64.b64encode(key.encode()).decode()
    action = unique("keyless")
    put_action(tenant, action, "function main() { return {}; }")
    tab = ConsolePage(browser, whisklet.url)
    tab.sign_in(key)
    page = tab.page
    expect(page.get_by_role("heading", name="Actions")).to_be_visible()
    urls = [page.url]
    for view in ("#/activations", f"#/actions/{action}", "#/triggers", "#/rules", "#/packages", "#/routes", "#/live"):
        tab.go(view)
        expect(page.locator("main h1")).to_be_visible()
        urls.append(page.url)
    tab.go(f"#/actions/{action}")
    page.get_by_role("button", name="Invoke").click()
    expect(page.locator("#invoke-outcome [data-status]")).to_have_text("success")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    urls += [page.url, *page.evaluate("performance.getEntries().map(e => e.name)"), *tab.requested]

    assert len(tab.requested) > 10
    for url in urls:
        for part in (secret, encoded, httpx.URL(f"http://x/?k={secret}").query.decode()):
            assert part not in url, url
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    assert page.context.cookies() == []
    assert uuid not in page.content() and secret not in page.content()
    page.close()
