"""One Whisklet on PostgreSQL end to end: `whisklet serve --store postgresql://...` on a database of its own."""

import asyncio

import asyncpg
import pytest

from bench.serving import ServedWhisklet
from tests.gateway.store.postgres import fresh_database
from tests.integration.actions import NS, activation, invoke, put_action, unique

ECHO = "function main(p) { console.log('hello ' + p.name); return {greeting: 'hello ' + p.name}; }"


async def node_ids(dsn: str) -> list[str]:
    db = await asyncpg.connect(dsn)
    try:
        return [r[0] for r in await db.fetch("SELECT node_id FROM nodes")]
    finally:
        await db.close()


@pytest.fixture
def store_url():
    with fresh_database("whisklet_e2e") as (dsn, _):
        yield dsn


def test_a_whisklet_on_postgresql_serves_and_keeps_everything_across_a_restart(tmp_path, store_url):
    served = ServedWhisklet(tmp_path / "data", args=["--store", store_url, "--node-id", "web-1"]).start()
    try:
        with served.client() as wsk:
            name = unique("echo")
            put_action(wsk, name, ECHO)
            blocking = invoke(wsk, name, {"name": "Ada"})
            assert blocking.status_code == 200, blocking.text
            assert blocking.json()["response"]["result"] == {"greeting": "hello Ada"}
            accepted = wsk.post(f"{NS}/actions/{name}", json={"name": "Bob"})
            assert accepted.status_code == 202, accepted.text
            later = activation(wsk, accepted.json()["activationId"])
            assert later["response"]["result"] == {"greeting": "hello Bob"}
            listed = wsk.get(f"{NS}/activations", params={"name": name}).json()
            ids = {blocking.json()["activationId"], later["activationId"]}
            assert {a["activationId"] for a in listed} == ids
            logs = wsk.get(f"{NS}/activations/{later['activationId']}/logs").json()["logs"]
            assert logs[0].endswith("stdout: hello Bob")
        assert served.stop() == 0
        assert asyncio.run(node_ids(store_url)) == ["web-1"]  # its heartbeat row

        served.start()  # the same database and data directory: nothing is lost
        with served.client() as wsk:
            assert wsk.get(f"{NS}/actions/{name}").status_code == 200
            again = wsk.get(f"{NS}/activations", params={"name": name}).json()
            assert {a["activationId"] for a in again} == ids
            assert invoke(wsk, name, {"name": "Cy"}, result=True).json() == {"greeting": "hello Cy"}
        assert not (tmp_path / "data" / "whisklet.db").exists()  # everything went to PostgreSQL
    finally:
        served.kill()
