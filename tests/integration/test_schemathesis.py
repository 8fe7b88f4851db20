"""A bounded schemathesis run against the live gateway: no 500s and every response as the OpenAPI document says.

The run acts as a namespace of its own whose throttles are tiny (5 invocations and 5 fires a minute), so
the generated invocations, fires and web requests cost a handful of containers and then get 429s. Some
path parameters are drawn from entities created first, so that requests reach existing actions,
packages, triggers, rules and activations, not only 404s.
"""

from __future__ import annotations

import json
import subprocess

import httpx

from bench.serving import REPO, WHISKLET
from tests.integration.actions import unique

SCHEMATHESIS = REPO / ".venv" / "bin" / "schemathesis"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance," \
         "response_schema_conformance"
HELLO = "function main(params) { return {body: 'hello', params: Object.keys(params).length}; }"


def seed(url: str, auth: tuple[str, str]) -> str:
    """Entities for the generated requests to find; returns an activation id."""
    ns = "/api/v1/namespaces/_"
    with httpx.Client(base_url=url, auth=auth, timeout=60) as client:
        for path, body in [
            ("actions/hello", {"exec": {"kind": "nodejs:default", "code": HELLO},
                               "annotations": [{"key": "web-export", "value": True}]}),
            ("packages/pkg", {"publish": True}),
            ("actions/pkg/inner", {"exec": {"kind": "nodejs:default", "code": HELLO}}),
            ("triggers/tick", {}),
            ("rules/tock", {"trigger": "/_/tick", "action": "/_/hello"}),
        ]:
            response = client.put(f"{ns}/{path}", json=body, params={"overwrite": "true"})
            assert response.status_code == 200, response.text
        invoked = client.post(f"{ns}/actions/hello", params={"blocking": "true"}, json={})
        assert invoked.status_code == 200, invoked.text
        return invoked.json()["activationId"]


def config(namespace: str, activation_id: str) -> str:
    return f"""
[dictionaries]
namespaces = {{ values = ["_", "{namespace}"] }}
names = {{ values = ["hello", "pkg", "inner", "tick", "tock"] }}

[parameters]
ns = {{ dictionary = "namespaces", probability = 0.9 }}
name = {{ dictionary = "names", probability = 0.6 }}
pkg = {{ dictionary = "names", probability = 0.6 }}
id = "{activation_id}"

[[operations]]
include-path-regex = "^/api/v1/web/"
parameters = {{ ns = "{namespace}", pkg = "default", action = "hello.json" }}
"""


def test_generated_requests_get_no_500_and_match_the_openapi_document(whisklet, tmp_path):
    namespace = unique("fuzz")
    created = subprocess.run(
        [str(WHISKLET), "namespace", "create", namespace, "--data-dir", str(whisklet.data_dir),
         "--invocations-per-minute", "5", "--fires-per-minute", "5", "--concurrent-invocations", "2"],
        capture_output=True, text=True, check=True,
    )
    uuid, key = created.stdout.strip().split(":")
    activation_id = seed(whisklet.url, (uuid, key))
    (tmp_path / "schemathesis.toml").write_text(config(namespace, activation_id))
    # One worker: schemathesis compiles code in its worker threads, and CPython 3.11's compiler can then
    # fail with "SystemError: AST constructor recursion depth mismatch", a runtime error of the tool.
    run = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(tmp_path / "schemathesis.toml"), "--no-color", "run",
         f"{whisklet.url}/api/v1/api-docs", "--url", whisklet.url, "--auth", f"{uuid}:{key}",
         "--checks", CHECKS, "--phases", "examples,coverage,fuzzing", "--max-examples", "8", "--workers", "1",
         "--max-time", "60", "--seed", "6", "--report", "json", "--report-json-path", str(tmp_path / "report.json")],
        capture_output=True, text=True, timeout=110, cwd=tmp_path,
    )
    report = json.loads((tmp_path / "report.json").read_text())
    cases = report["test_cases"]
    print(f"schemathesis: {report['operations']['tested']} operations, {cases['generated']} requests, "
          f"{cases['with_failures']} failing, {len(report['errors'])} errors")
    assert report["operations"]["tested"] == report["operations"]["total"]
    assert cases["generated"] > 500
    assert (cases["with_failures"], report["errors"]) == (0, []), run.stdout[-6000:]
    assert run.returncode == 0, run.stdout[-6000:]
