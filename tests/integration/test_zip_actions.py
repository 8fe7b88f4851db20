"""Zip actions end to end: an npm project with its own node_modules, deployed base64 as `wsk` does."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import httpx
import pytest

from tests.integration.actions import NS, invoke, namespace_client, unique

FAILED = "Initialization has failed due to: There was an error uncompressing the action archive"


@pytest.fixture(scope="module")
def wsk(whisklet) -> httpx.Client:
    """This module's own namespace, so its invocations do not count against guest's throttles."""
    with namespace_client(whisklet, "zips") as client:
        yield client


def zipped(files: dict[str, str | bytes]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return base64.b64encode(buffer.getvalue()).decode()


def put_zip(wsk, name: str, code: str, **fields):
    # `wsk action create NAME app.zip --kind nodejs:20`: the zip is sent base64 as `code`
    return wsk.put(f"{NS}/actions/{name}", json={"exec": {"kind": "nodejs:20", "code": code, **fields}})


PROJECT = {
    "package.json": json.dumps({"name": "greeter", "version": "1.0.0", "main": "lib/index.js",
                                "dependencies": {"tiny-greeting": "^1.0.0"}}),
    "lib/index.js": "const greet = require('tiny-greeting');\n"
                    "exports.main = (params) => ({greeting: greet(params.name || 'stranger')});\n",
    "node_modules/tiny-greeting/package.json": json.dumps({"name": "tiny-greeting", "version": "1.0.0",
                                                           "main": "greet.js"}),
    "node_modules/tiny-greeting/greet.js": "module.exports = (name) => `Hello, ${name}!`;\n",
}


def test_zip_action_requires_a_dependency_from_its_own_node_modules(wsk):
    name = unique("zip")
    created = put_zip(wsk, name, zipped(PROJECT))
    assert created.status_code == 200, created.text
    assert created.json()["exec"]["binary"] is True
    response = invoke(wsk, name, {"name": "Ada"}, result=True)
    assert (response.status_code, response.json()) == (200, {"greeting": "Hello, Ada!"})


def test_zip_action_main_may_name_a_file_and_function(wsk):
    name = unique("zipmain")
    code = zipped({"handlers/web.js": "exports.handle = () => ({body: 'from handlers/web.handle'});"})
    assert put_zip(wsk, name, code, main="handlers/web.handle").status_code == 200
    assert invoke(wsk, name, result=True).json() == {"body": "from handlers/web.handle"}


def test_zip_slip_archive_is_refused_with_a_clear_error(wsk):
    name = unique("zipslip")
    code = zipped({"index.js": "exports.main = () => ({});", "../../opt/whisklet/runner.js": "pwned"})
    assert put_zip(wsk, name, code).status_code == 200
    response = invoke(wsk, name)
    assert response.status_code == 502
    record = response.json()
    assert record["response"]["status"] == "action developer error"
    assert record["response"]["result"] == {
        "error": f"{FAILED}: the entry '../../opt/whisklet/runner.js' points outside the action's directory."}


def test_archive_that_would_fill_the_tmpfs_is_refused(wsk):
    name = unique("zipbomb")
    code = zipped({"index.js": "exports.main = () => ({});", "zeros.bin": b"\0" * (60 << 20)})
    assert put_zip(wsk, name, code).status_code == 200
    response = invoke(wsk, name, result=True)
    assert response.status_code == 502
    assert response.json()["error"].startswith(f"{FAILED}: it unpacks to more than ")


def test_code_over_48_mb_is_413(wsk):
    code = "A" * (50331648 + 4)
    response = put_zip(wsk, unique("huge"), code)
    assert response.status_code == 413
    assert response.json()["error"] == f"exec larger than allowed: {len(code)} > 50331648 bytes."
