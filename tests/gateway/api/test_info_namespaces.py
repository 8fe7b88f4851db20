from __future__ import annotations

import httpx

from gateway.app import Services, build_app

MB = 1024 * 1024


async def test_root_shows_system_limits_in_bytes_and_ms_and_the_runtimes(client):
    response = await client.get("/", auth=None)
    assert response.status_code == 200
    info = response.json()
    assert info["description"] == "OpenWhisk"
    assert info["api_paths"] == ["/api/v1"]
    assert set(info["support"]) == {"github", "slack"}
    assert info["limits"] == {
        "actions_per_minute": 60, "triggers_per_minute": 60, "concurrent_actions": 30, "sequence_length": 50,
        "min_action_duration": 100, "max_action_duration": 300000, "default_action_duration": 60000,
        "min_action_memory": 128 * MB, "max_action_memory": 512 * MB, "default_action_memory": 256 * MB,
        "min_action_logs": 0, "max_action_logs": 10 * MB, "default_action_logs": 10 * MB,
    }
    nodejs = info["runtimes"]["nodejs"]
    assert [(r["kind"], r["image"], r["default"]) for r in nodejs] == [
        ("nodejs:20", "whisklet-nodejs:20", False), ("nodejs:22", "whisklet-nodejs:22", False),
        ("nodejs:24", "whisklet-nodejs:24", True),
    ]


async def test_root_lists_every_kind_with_its_exact_node_version(client):
    info = (await client.get("/", auth=None)).json()
    versions = {r["kind"]: r["version"] for r in info["runtimes"]["nodejs"]}
    assert versions == {"nodejs:20": "20.20.2", "nodejs:22": "22.23.5", "nodejs:24": "24.22.3"}


async def test_ping_answers_pong_as_text(client):
    response = await client.get("/ping", auth=None)
    assert response.status_code == 200
    assert response.text == "pong"
    assert response.headers["content-type"].startswith("text/plain")


async def test_api_v1_describes_the_api_without_auth(client):
    response = await client.get("/api/v1", auth=None)
    assert response.status_code == 200
    info = response.json()
    assert (info["description"], info["api_version"], info["api_version_path"]) == ("OpenWhisk API", "1.0.0", "v1")
    assert info["swagger_paths"] == {"ui": "/docs", "api-docs": "/api-docs"}
    assert {"build", "buildno"} <= set(info)


async def test_namespaces_lists_only_the_callers_namespace(client, other_auth):
    assert (await client.get("/api/v1/namespaces")).json() == ["guest"]
    assert (await client.get("/api/v1/namespaces", auth=other_auth)).json() == ["other"]


async def test_namespaces_requires_auth(client):
    response = await client.get("/api/v1/namespaces", auth=None)
    assert response.status_code == 401


async def test_limits_are_the_system_defaults_for_a_namespace_without_overrides(client):
    response = await client.get("/api/v1/namespaces/_/limits")
    assert response.status_code == 200
    assert response.json() == {
        "invocationsPerMinute": 60, "concurrentInvocations": 30, "firesPerMinute": 60,
        "minActionMemory": 128, "maxActionMemory": 512, "minActionLogs": 0, "maxActionLogs": 10,
        "minActionTimeout": 100, "maxActionTimeout": 300000, "minActionConcurrency": 1,
        "maxActionConcurrency": 1, "maxParameterSize": "1048576 B", "maxActionInstances": 30,
        "egress": "internet",
    }


async def test_limits_show_the_namespaces_own_overrides(client, other_auth):
    limits = (await client.get("/api/v1/namespaces/other/limits", auth=other_auth)).json()
    assert limits["invocationsPerMinute"] == 600
    assert limits["concurrentInvocations"] == 30


async def test_limits_follow_the_configuration(store, controller, config, guest_auth):
    config.limits.memory_max_mb = 2048
    config.limits.concurrent_invocations = 100
    app = build_app(Services(config=config, store=store, controller=controller))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://w", auth=guest_auth) as client:
        limits = (await client.get("/api/v1/namespaces/guest/limits")).json()
        root = (await client.get("/")).json()
    assert limits["maxActionMemory"] == 2048
    assert limits["concurrentInvocations"] == limits["maxActionInstances"] == 100
    assert root["limits"]["max_action_memory"] == 2048 * MB


async def test_limits_of_a_foreign_namespace_are_403(client):
    response = await client.get("/api/v1/namespaces/other/limits")
    assert response.status_code == 403
    assert response.json()["error"] == "The supplied authentication is not authorized to access 'other'."
