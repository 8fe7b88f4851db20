"""Every Node.js kind end to end on both drivers: its Node major, Adobe's pre-installed modules by `require`
and by `import`, and a zip action's own copy of a module winning over the pre-installed one."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from bench.serving import ServedWhisklet
from tests.integration.actions import NS, invoke, namespace_client, put_action, unique

KINDS = ("nodejs:20", "nodejs:22", "nodejs:24")
MODULES = ("openwhisk", "express", "body-parser", "node-fetch", "redis", "dnscache", "prom-client")


@pytest.fixture(scope="module", params=["sandbox", "docker"])
def wsk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A Whisklet of its own per driver, and a namespace in it."""
    served = ServedWhisklet(tmp_path_factory.mktemp(f"runtimes-{request.param}"),
                            env={"WHISKLET_POOL_DRIVER": request.param}).start(timeout_s=600)
    try:
        with namespace_client(served, "runtimes") as client:
            client.driver = request.param
            yield client
    finally:
        served.stop()


def zipped(files: dict[str, str]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return base64.b64encode(buffer.getvalue()).decode()


def result_of(wsk: httpx.Client, name: str) -> dict:
    response = invoke(wsk, name, result=True)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_server_runs_the_driver_under_test(wsk):
    assert wsk.get("/api/v1").json()["sandbox_driver"] == wsk.driver


@pytest.mark.parametrize("kind", KINDS)
def test_an_action_of_each_kind_runs_on_that_node_major(wsk, kind):
    name = unique("version")
    put_action(wsk, name, "function main() { return {version: process.version}; }", kind=kind)
    version = result_of(wsk, name)["version"]
    assert version.split(".")[0] == "v" + kind.split(":")[1]


def test_nodejs_default_runs_the_newest_lts(wsk):
    name = unique("default")
    created = put_action(wsk, name, "function main() { return {version: process.version}; }")
    assert created["exec"]["kind"] == "nodejs:24"
    assert result_of(wsk, name)["version"].startswith("v24.")


LOADS_EVERY_MODULE = """
async function main() {
  const names = MODULES;
  const required = {}, imported = {};
  for (const name of names) required[name] = typeof require(name);
  for (const name of names) imported[name] = typeof (await import(name)).default;
  return {required, imported};
}
""".replace("MODULES", json.dumps(MODULES))


@pytest.mark.parametrize("kind", KINDS)
def test_every_preinstalled_module_loads_by_require_and_by_import(wsk, kind):
    name = unique("modules")
    put_action(wsk, name, LOADS_EVERY_MODULE, kind=kind)
    result = result_of(wsk, name)
    assert set(result["required"]) == set(MODULES)
    assert all(t in ("function", "object") for t in result["required"].values()), result
    assert all(t in ("function", "object") for t in result["imported"].values()), result


@pytest.mark.parametrize("kind", ["nodejs:22", "nodejs:24"])
def test_an_es_module_zip_action_imports_a_preinstalled_module(wsk, kind):
    name = unique("esm")
    code = zipped({
        "package.json": json.dumps({"name": "esm", "type": "module", "main": "index.js"}),
        "index.js": "import fetch from 'node-fetch';\nimport openwhisk from 'openwhisk';\n"
                    "export function main() { return {fetch: typeof fetch, openwhisk: typeof openwhisk}; }\n",
    })
    assert wsk.put(f"{NS}/actions/{name}", json={"exec": {"kind": kind, "code": code}}).status_code == 200
    assert result_of(wsk, name) == {"fetch": "function", "openwhisk": "function"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_zip_actions_own_copy_of_a_module_wins_over_the_preinstalled_one(wsk, kind):
    name = unique("own")
    code = zipped({
        "package.json": json.dumps({"name": "own", "main": "index.js"}),
        "index.js": "exports.main = async () => ({required: require('node-fetch').marker,\n"
                    "  imported: (await import('node-fetch')).marker, shared: typeof require('openwhisk')});\n",
        "node_modules/node-fetch/package.json": json.dumps({"name": "node-fetch", "version": "0.0.1"}),
        "node_modules/node-fetch/index.js": "exports.marker = 'the action\\'s own';\n",
    })
    assert wsk.put(f"{NS}/actions/{name}", json={"exec": {"kind": kind, "code": code}}).status_code == 200
    assert result_of(wsk, name) == {"required": "the action's own", "imported": "the action's own",
                                    "shared": "function"}
