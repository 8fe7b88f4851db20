"""The web console in a real browser against a real server and real sandboxes: what a user does and sees.

Each view is photographed at 1280x800 and 390x844 into `WHISKLET_SCREENSHOT_DIR` (or the test's tmp path).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from bench.serving import ServedWhisklet, wait_until
from tests.browser.console import ConsolePage, key_of, screenshot_dir, screenshots, tenant_namespace
from tests.browser.console import browser as console_browser
from tests.integration.actions import NS, unique
from tests.integration.events import put, put_rule

pytestmark = pytest.mark.docker

GREETER = """function main(params) {
  console.log('greeting ' + params.name);
  return { greeting: 'Hello, ' + params.name + '!' };
}"""
NOTHING = "function main() { return {}; }"
DASH = "\u2013"  # the en dash of the console's ranges


browser = console_browser  # a fixture


@pytest.fixture(scope="module")
def tenant(whisklet: ServedWhisklet) -> Iterator[httpx.Client]:
    yield from tenant_namespace(whisklet, "console")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshot_dir(tmp_path_factory.mktemp("console-screenshots"))


@pytest.fixture
def console(browser: Browser, whisklet: ServedWhisklet, tenant: httpx.Client) -> Iterator[ConsolePage]:
    tab = ConsolePage(browser, whisklet.url)
    tab.sign_in(key_of(tenant))
    expect(tab.page.get_by_role("heading", name="Actions")).to_be_visible()
    yield tab
    assert tab.script_errors == []
    tab.page.close()


def test_a_wrong_key_shows_the_apis_own_error(browser: Browser, whisklet: ServedWhisklet, shots: Path) -> None:
    wrong = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:not-the-key"
    answer = httpx.get(f"{whisklet.url}{NS}/actions", auth=tuple(wrong.split(":")))  # type: ignore[arg-type]
    assert answer.status_code == 401
    tab = ConsolePage(browser, whisklet.url)
    page = tab.open()
    screenshots(page, shots, "sign-in")
    tab.sign_in(wrong)
    expect(page.get_by_role("alert")).to_have_text(answer.json()["error"])
    expect(page.get_by_role("navigation", name="Sections")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
    tab.page.close()


def test_a_user_creates_an_action_invokes_it_and_sees_its_activation_and_logs(
    console: ConsolePage, tenant: httpx.Client, shots: Path
) -> None:
    page = console.page
    name = unique("greeter")
    screenshots(page, shots, "actions")
    page.get_by_role("link", name="New action").click()
    page.get_by_label("Name").fill(name)
    editor = page.get_by_role("textbox", name="Code")
    expect(editor).to_be_visible()
    expect(page.locator("[data-editor=codemirror]")).to_be_visible()  # set-up installed CodeMirror
    editor.fill(GREETER)
    page.get_by_label("Memory (MB)").fill("128")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=f"Action {name}")).to_be_visible()
    stored = tenant.get(f"{NS}/actions/{name}").json()
    assert stored["exec"]["code"] == GREETER and stored["limits"]["memory"] == 128

    page.get_by_role("textbox", name="Parameters (JSON object)").last.fill('{"name": "Ada"}')
    page.get_by_role("button", name="Invoke").click()
    outcome = page.locator("#invoke-outcome")
    expect(outcome.locator("[data-status]")).to_have_text("success")
    expect(outcome).to_contain_text('"greeting": "Hello, Ada!"')
    expect(outcome).to_contain_text("stdout: greeting Ada")
    expect(outcome).to_contain_text("Init time")
    expect(outcome).to_contain_text("Cold start")
    screenshots(page, shots, "action")

    page.get_by_role("link", name="Activations").click()
    listed = page.locator("#activation-list tbody tr").filter(has_text=name)
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("success")
    screenshots(page, shots, "activations")
    listed.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name=f"Activation of {name}")).to_be_visible()
    expect(page.get_by_role("list", name="Log lines")).to_contain_text("greeting Ada")
    screenshots(page, shots, "activation")


def test_the_activation_list_updates_itself_and_filters_by_name(console: ConsolePage, tenant: httpx.Client) -> None:
    page = console.page
    name = unique("ticker")
    put(tenant, "actions", name, {"exec": {"kind": "nodejs:default", "code": NOTHING}})
    console.go("#/activations")
    expect(page.locator("#activation-list table")).to_be_visible()
    invoked = tenant.post(f"{NS}/actions/{name}", params={"blocking": "true"}, json={})
    assert invoked.status_code == 200, invoked.text
    expect(page.locator("#activation-list")).to_contain_text(invoked.json()["activationId"])  # no reload
    page.get_by_label("Filter by name").fill("no-such-action")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#activation-list")).to_contain_text("None yet.")


def test_firing_a_trigger_in_the_console_runs_its_rules_action_and_the_rule_can_be_disabled(
    console: ConsolePage, tenant: httpx.Client, shots: Path
) -> None:
    page = console.page
    action, trigger, rule = unique("echo"), unique("bell"), unique("ring")
    echo = "function main(p) { return {rang: p.tone}; }"
    put(tenant, "actions", action, {"exec": {"kind": "nodejs:default", "code": echo}})
    put(tenant, "triggers", trigger)
    put_rule(tenant, rule, trigger, action)

    console.go("#/triggers")
    page.get_by_role("link", name=trigger).click()
    expect(page.get_by_role("heading", name=f"Trigger {trigger}")).to_be_visible()
    page.get_by_label("Payload (JSON object)").fill('{"tone": "C"}')
    page.get_by_role("button", name="Fire").click()
    expect(page.locator("#fire-outcome")).to_contain_text("Fired")
    screenshots(page, shots, "trigger")
    page.locator("#fire-outcome").get_by_role("link").click()
    rule_line = page.get_by_role("list", name="Log lines").get_by_role("listitem").filter(has_text=rule)
    expect(rule_line).to_contain_text(f"/{action}")
    rule_line.get_by_role("link").click()
    expect(page.get_by_role("heading", name=f"Activation of {action}")).to_be_visible()
    expect(page.locator("main")).to_contain_text('"rang": "C"')

    console.go("#/rules")
    expect(page.locator("main")).to_contain_text(trigger)
    screenshots(page, shots, "rules")
    page.get_by_role("link", name=rule).click()
    expect(page.locator("#rule-status")).to_have_text("active")
    page.get_by_role("button", name="Disable").click()
    expect(page.locator("#rule-status")).to_have_text("inactive")
    screenshots(page, shots, "rule")
    assert tenant.get(f"{NS}/rules/{rule}").json()["status"] == "inactive"


def test_packages_routes_and_the_live_view_show_the_namespace(
    console: ConsolePage, tenant: httpx.Client, shots: Path
) -> None:
    page = console.page
    package = unique("tools")
    put(tenant, "packages", package, {"parameters": [{"key": "region", "value": "eu"}]})
    put(tenant, "actions", f"{package}/hello", {"exec": {"kind": "nodejs:default", "code": NOTHING}})
    console.go("#/packages")
    page.get_by_role("link", name=package).click()
    expect(page.get_by_role("link", name=f"{package}/hello")).to_be_visible()
    expect(page.locator("main")).to_contain_text('"region"')
    screenshots(page, shots, "package")
    books = unique("books")
    put(tenant, "actions", books, {"exec": {"kind": "nodejs:default", "code": NOTHING},
                                   "annotations": [{"key": "web-export", "value": True}]})
    created = tenant.post("/api/v1/web/whisk.system/apimgmt/createApi.http", json={"apidoc": {
        "namespace": "_", "gatewayBasePath": "/club", "gatewayPath": "/books", "gatewayMethod": "GET",
        "action": {"name": books, "namespace": "_", "backendMethod": "GET", "authkey": key_of(tenant),
                   "backendUrl": f"{tenant.base_url}/api/v1/web/_/default/{books}.http"}}})
    assert created.status_code == 200, created.text
    console.go("#/routes")
    route = page.locator("main tbody tr").filter(has_text="/club/books")
    expect(route).to_contain_text("GET")
    expect(route).to_contain_text(books)
    screenshots(page, shots, "routes")

    console.go("#/live")
    legend = page.locator("#chart-pool .legend")
    expect(legend).to_contain_text(re.compile(r"prewarmed: \d"))
    name = unique("pulse")
    put(tenant, "actions", name, {"exec": {"kind": "nodejs:default", "code": NOTHING}})
    assert wait_until(lambda: tenant.post(f"{NS}/actions/{name}", params={"blocking": "true"}).status_code == 200)
    some_success = re.compile(r"success: (0\.[0-9]*[1-9]|[1-9])")  # a rate above zero, read at the next scrape
    expect(page.locator("#chart-rate .legend")).to_contain_text(some_success, timeout=20_000)
    warm = tenant.post(f"{NS}/actions/{name}", params={"blocking": "true"}).json()
    if not any(note["key"] == "coldStart" for note in warm["annotations"]):  # a warm run: its latency is charted
        expect(page.locator("#chart-latency .legend")).to_contain_text(re.compile(r"p50: \d"), timeout=20_000)
    screenshots(page, shots, "live")
    console.go("#/activations")
    expect(page.locator("#activation-list")).to_contain_text(name)
    screenshots(page, shots, "activations-later")  # the namespace's activations so far, for the README


def test_signing_out_clears_the_key_and_shows_the_sign_in_form(console: ConsolePage) -> None:
    page = console.page
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    console.go("#/actions")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Sections")).to_be_hidden()


def test_a_sequences_activation_links_its_components_in_order(console: ConsolePage, tenant: httpx.Client) -> None:
    page = console.page
    first, second, chain = unique("first"), unique("second"), unique("chain")
    steps = {first: "function main() { return {n: 1}; }", second: "function main(p) { return {n: p.n + 1}; }"}
    for name, code in steps.items():
        put(tenant, "actions", name, {"exec": {"kind": "nodejs:default", "code": code}})
    put(tenant, "actions", chain, {"exec": {"kind": "sequence", "components": [f"/_/{first}", f"/_/{second}"]}})
    invoked = tenant.post(f"{NS}/actions/{chain}", params={"blocking": "true"}, json={})
    assert invoked.status_code == 200, invoked.text
    console.go(f"#/activations/{invoked.json()['activationId']}")
    expect(page.locator("main")).to_contain_text('"n": 2')
    components = page.get_by_role("heading", name="Sequence components").locator("+ ol").get_by_role("link")
    expect(components).to_have_count(2)
    components.last.click()
    expect(page.get_by_role("heading", name=f"Activation of {second}")).to_be_visible()


def test_deleting_an_action_asks_once_more_then_removes_it(console: ConsolePage, tenant: httpx.Client) -> None:
    page = console.page
    name = unique("doomed")
    put(tenant, "actions", name, {"exec": {"kind": "nodejs:default", "code": NOTHING}})
    console.go(f"#/actions/{name}")
    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("button", name="Keep it").click()
    assert tenant.get(f"{NS}/actions/{name}").status_code == 200
    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("button", name=f"Delete {name}").click()
    expect(page.get_by_role("heading", name="Actions")).to_be_visible()
    expect(page.get_by_role("link", name=name)).to_have_count(0)
    assert tenant.get(f"{NS}/actions/{name}").status_code == 404


def test_without_codemirror_the_console_edits_code_in_a_textarea_and_says_so(
    browser: Browser, whisklet: ServedWhisklet, tenant: httpx.Client
) -> None:
    tab = ConsolePage(browser, whisklet.url)
    tab.page.route("**/console/modules/**", lambda route: route.abort())  # as if set-up had not installed them
    tab.sign_in(key_of(tenant))
    page = tab.page
    name = unique("plain")
    page.get_by_role("link", name="New action").click()
    expect(page.get_by_role("note")).to_contain_text("not installed")
    page.get_by_label("Name").fill(name)
    page.get_by_role("textbox", name="Code").fill("function main() { return {plain: true}; }")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=f"Action {name}")).to_be_visible()
    page.get_by_role("button", name="Invoke").click()
    expect(page.locator("#invoke-outcome")).to_contain_text('"plain": true')
    page.close()


def test_the_keyboard_reaches_the_content_first_and_the_skip_link_keeps_the_view(console: ConsolePage) -> None:
    page = console.page
    console.go("#/activations")
    expect(page.locator("main")).to_be_focused()  # a new view takes the focus to its content
    page.keyboard.press("Tab")
    expect(page.get_by_label("Filter by name")).to_be_focused()
    page.reload()
    expect(page.get_by_role("heading", name="Activations")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    assert page.url.endswith("#/activations")


def test_an_api_refusal_is_shown_with_the_apis_own_message(console: ConsolePage, tenant: httpx.Client) -> None:
    page = console.page
    name = unique("tiny")
    refused = tenant.put(f"{NS}/actions/{name}", json={"exec": {"kind": "nodejs:default", "code": NOTHING},
                                                         "limits": {"memory": 1}})
    assert refused.status_code == 400
    console.go("#/actions/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Memory (MB)").fill("1")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert")).to_have_text(refused.json()["error"])


def test_parameters_and_limits_saved_in_the_console_are_what_the_api_then_holds(
    console: ConsolePage, tenant: httpx.Client
) -> None:
    page = console.page
    name = unique("tuned")
    put(tenant, "actions", name, {"exec": {"kind": "nodejs:default", "code": "function main(p) { return p; }"}})
    console.go(f"#/actions/{name}")
    page.get_by_role("textbox", name="Parameters (JSON object)").first.fill('{"greeting": "hi", "count": 2}')
    page.get_by_label("Timeout (ms)").fill("5000")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved version 0.0.2")
    stored = tenant.get(f"{NS}/actions/{name}").json()
    assert {p["key"]: p["value"] for p in stored["parameters"]} == {"greeting": "hi", "count": 2}
    assert stored["limits"]["timeout"] == 5000
    page.get_by_role("textbox", name="Parameters (JSON object)").first.fill("[1, 2]")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Parameters must be a JSON object")


def test_a_namespace_with_more_entities_than_a_page_is_listed_page_by_page(
    browser: Browser, whisklet: ServedWhisklet, shots: Path
) -> None:
    """The API answers at most 200 entities a request: the console pages through them with the API's count."""
    for owner in tenant_namespace(whisklet, "pages"):
        names = sorted(f"t{n:03d}" for n in range(105))
        for name in names:
            put(owner, "triggers", name)
        tab = ConsolePage(browser, whisklet.url)
        tab.sign_in(key_of(owner))
        page = tab.go("#/triggers")
        caption = page.locator("#triggers-list caption")
        expect(caption).to_have_text(f"105 triggers; 1{DASH}100 shown")
        expect(page.locator("#triggers-list tbody tr")).to_have_count(100)
        expect(page.locator("#triggers-page")).to_have_text("Page 1 of 2")
        expect(page.get_by_role("button", name="← Previous")).to_be_disabled()
        page.get_by_role("button", name="Next →").click()
        expect(caption).to_have_text(f"105 triggers; 101{DASH}105 shown")
        expect(page.get_by_role("button", name="Next →")).to_be_disabled()
        shown = page.locator("#triggers-list tbody tr td:first-child").all_inner_texts()
        first_page = owner.get(f"{NS}/triggers", params={"limit": 100}).json()
        assert set(shown) | {t["name"] for t in first_page} == set(names)  # every trigger on one page or the other
        screenshots(page, shots, "triggers-page-2")
        page.get_by_role("button", name="← Previous").click()
        expect(caption).to_have_text(f"105 triggers; 1{DASH}100 shown")
        page = tab.go("#/rules")  # a list that fits one page shows no pager
        expect(page.locator("#rules-list caption")).to_have_text("0 rules")
        expect(page.locator("#rules-page")).to_be_hidden()
        assert tab.script_errors == []
        tab.page.close()
