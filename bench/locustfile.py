"""Locust scenarios for Whisklet (DESIGN.md §7): invokes, a trigger fired through a rule, a web action, CRUD.

    locust -f bench/locustfile.py --headless -u 20 -r 20 -t 60s

Host and credentials come from `APIHOST` and `AUTH` in the environment, else from the wskprops file
named by `WSK_CONFIG_FILE` (default `~/.wskprops`), as for `wsk`. The actions, the trigger and the rule
are created when the test starts and deleted when it stops (names start with `BENCH_PREFIX`, default
`locust-bench`). A scenario the server does not offer (404 for triggers, or for web actions) is skipped
with a message. Each activation user runs `BENCH_USER_RATE` tasks per second (default 1), each CRUD user
`BENCH_CRUD_USER_RATE` (default 1); `python -m bench` drives them through a staircase of rates.
"""

from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import gevent
import requests
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.exception import StopUser

log = logging.getLogger("bench")

HELLO = "function main(params) { return { msg: 'hello ' + (params.name || 'world') }; }"
WEB = "function main(params) { return { greeting: 'hello ' + (params.name || 'web') }; }"
NS = "/api/v1/namespaces/_"
USER_RATE = float(os.environ.get("BENCH_USER_RATE", "1"))
CRUD_USER_RATE = float(os.environ.get("BENCH_CRUD_USER_RATE", "1"))
CRUD_NAMES = 20  # CRUD users share this many action names, so clean-up knows them all


def wsk_properties() -> dict[str, str]:
    """APIHOST and AUTH from the environment, else from the wskprops file (`WSK_CONFIG_FILE`, `~/.wskprops`)."""
    found: dict[str, str] = {}
    path = Path(os.environ.get("WSK_CONFIG_FILE") or Path.home() / ".wskprops")
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                found[key.strip()] = value.strip()
    for key in ("APIHOST", "AUTH"):
        if os.environ.get(key):
            found[key] = os.environ[key]
    if "AUTH" not in found or "APIHOST" not in found:
        raise SystemExit(f"set APIHOST and AUTH, or point WSK_CONFIG_FILE at a wskprops file (tried {path})")
    host = found["APIHOST"]
    found["APIHOST"] = host if "://" in host else f"https://{host}"
    return found


@dataclass
class Deployment:
    """What the test set up on the server, and which scenarios it supports."""

    host: str
    auth: tuple[str, str]
    prefix: str
    namespace: str = "_"
    triggers: bool = False
    web: bool = False
    ready_at: float | None = None  # epoch seconds when the set-up was done

    @property
    def hello(self) -> str:
        return f"{self.prefix}-hello"

    @property
    def web_action(self) -> str:
        return f"{self.prefix}-web"

    @property
    def trigger(self) -> str:
        return f"{self.prefix}-tick"

    @property
    def rule(self) -> str:
        return f"{self.prefix}-on-tick"

    def crud_name(self, n: int) -> str:
        return f"{self.prefix}-crud-{n % CRUD_NAMES}"


def _session(deployment: Deployment) -> requests.Session:
    session = requests.Session()
    session.auth = deployment.auth
    return session


def set_up(deployment: Deployment) -> None:
    """Create the actions, the trigger and its rule; find out which scenarios the server offers."""
    with _session(deployment) as wsk:
        base = deployment.host
        namespaces = wsk.get(f"{base}/api/v1/namespaces", timeout=30)
        namespaces.raise_for_status()
        deployment.namespace = namespaces.json()[0]
        put = {"params": {"overwrite": "true"}, "timeout": 30}
        wsk.put(f"{base}{NS}/actions/{deployment.hello}", json={"exec": {"kind": "nodejs:default", "code": HELLO}},
                **put).raise_for_status()
        web = {"exec": {"kind": "nodejs:default", "code": WEB},
               "annotations": [{"key": "web-export", "value": True}, {"key": "final", "value": True}]}
        wsk.put(f"{base}{NS}/actions/{deployment.web_action}", json=web, **put).raise_for_status()
        probe = requests.get(f"{base}/api/v1/web/{deployment.namespace}/default/{deployment.web_action}.json", timeout=60)
        deployment.web = probe.status_code == 200
        if not deployment.web:
            log.warning("skipping the web-action scenario: the server answers %d for web actions", probe.status_code)
        trigger = wsk.put(f"{base}{NS}/triggers/{deployment.trigger}", json={}, **put)
        if trigger.status_code == 404:
            log.warning("skipping the trigger scenario: the server answers 404 for triggers")
            return
        trigger.raise_for_status()
        rule = {"trigger": f"/_/{deployment.trigger}", "action": f"/_/{deployment.hello}"}
        wsk.put(f"{base}{NS}/rules/{deployment.rule}", json=rule, **put).raise_for_status()
        deployment.triggers = True


def tear_down(deployment: Deployment) -> None:
    """Delete everything `set_up` and the CRUD users created; what is already gone is fine."""
    with _session(deployment) as wsk:
        base = deployment.host
        paths = [f"rules/{deployment.rule}", f"triggers/{deployment.trigger}",
                 f"actions/{deployment.hello}", f"actions/{deployment.web_action}"]
        paths += [f"actions/{deployment.crud_name(n)}" for n in range(CRUD_NAMES)]
        for path in paths:
            try:
                wsk.delete(f"{base}{NS}/{path}", timeout=30)
            except requests.RequestException as error:
                log.warning("could not delete %s: %s", path, error)


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--bench-prefix", default=os.environ.get("BENCH_PREFIX", "locust-bench"),
                        help="name prefix of the entities the test creates and deletes")


@events.init.add_listener
def _deployment(environment: Environment, **_) -> None:
    props = wsk_properties()
    uuid, _, key = props["AUTH"].partition(":")
    prefix = environment.parsed_options.bench_prefix if environment.parsed_options else "locust-bench"
    environment.host = (environment.host or props["APIHOST"]).rstrip("/")  # --host wins over APIHOST
    environment.whisklet = Deployment(environment.host, (uuid, key), prefix)


@events.test_start.add_listener
def _set_up(environment: Environment, **_) -> None:
    set_up(environment.whisklet)
    environment.whisklet.ready_at = time.time()


@events.test_stop.add_listener
def _tear_down(environment: Environment, **_) -> None:
    tear_down(environment.whisklet)


class WhiskletUser(FastHttpUser):
    """A user of the OpenWhisk API with the test's credentials, running `rate` tasks per second.

    The wait time is a constant throughput, like Locust's `constant_throughput`, except that each user
    starts at a random phase of its period: N users then offer an even N x `rate` per second from their
    first second on, instead of bursts of N requests once a period.
    """

    abstract = True
    rate = USER_RATE

    def on_start(self) -> None:
        self.deployment: Deployment = self.environment.whisklet
        self.credentials: tuple[str, str] | None = self.deployment.auth
        gevent.sleep(random.uniform(0, 1 / self.rate))
        self.task_started = time.monotonic()

    def wait_time(self) -> float:
        now = time.monotonic()
        wait = max(0.0, self.task_started + 1 / self.rate - now)
        self.task_started = now + wait
        return wait

    def expect(self, method: str, path: str, ok: tuple[int, ...], name: str, **kwargs) -> None:
        """One request, counted as a failure unless its status is in `ok`."""
        with self.client.request(method, path, name=name, catch_response=True, auth=self.credentials,
                                 **kwargs) as response:
            if response.status_code in ok:
                response.success()
            else:
                response.failure(f"{response.status_code}: {(response.text or '')[:200]}")


class BlockingInvoke(WhiskletUser):
    """`wsk action invoke --blocking --result`: the latency a caller sees."""

    weight = 7

    @task
    def invoke(self) -> None:
        self.expect("POST", f"{NS}/actions/{self.deployment.hello}", (200,), "invoke blocking",
                    params={"blocking": "true", "result": "true"}, json={"name": "locust"})


class NonBlockingInvoke(WhiskletUser):
    """`wsk action invoke`: 202 with an activation id; the activation runs on."""

    weight = 1

    @task
    def invoke(self) -> None:
        self.expect("POST", f"{NS}/actions/{self.deployment.hello}", (202,), "invoke non-blocking", json={"name": "locust"})


class TriggerFire(WhiskletUser):
    """`wsk trigger fire`: one rule starts the hello action."""

    weight = 1

    def on_start(self) -> None:
        super().on_start()
        if not self.deployment.triggers:
            raise StopUser()

    @task
    def fire(self) -> None:
        self.expect("POST", f"{NS}/triggers/{self.deployment.trigger}", (202,), "trigger fire", json={"name": "locust"})


class WebAction(WhiskletUser):
    """A web action called without credentials, as a browser would: `GET /api/v1/web/ns/default/action.json`."""

    weight = 1

    def on_start(self) -> None:
        super().on_start()
        if not self.deployment.web:
            raise StopUser()
        self.credentials = None

    @task
    def call(self) -> None:
        path = f"/api/v1/web/{self.deployment.namespace}/default/{self.deployment.web_action}.json"
        self.expect("GET", path, (200,), "web action", params={"name": "locust"})


class CrudMix(WhiskletUser):
    """Managing actions and reading activations: what `wsk` and `aio` do between invocations."""

    weight = 2
    rate = CRUD_USER_RATE

    def on_start(self) -> None:
        super().on_start()
        self.action = self.deployment.crud_name(random.randrange(CRUD_NAMES))
        self.update()

    @task(3)
    def update(self) -> None:
        body = {"exec": {"kind": "nodejs:default", "code": HELLO}, "parameters": [{"key": "n", "value": random.random()}]}
        self.expect("PUT", f"{NS}/actions/{self.action}", (200, 409), "action put", params={"overwrite": "true"}, json=body)

    @task(5)
    def get(self) -> None:
        # Users share names, so another may just have deleted this action, or be re-creating it.
        self.expect("GET", f"{NS}/actions/{self.action}", (200, 404), "action get")

    @task(3)
    def list_actions(self) -> None:
        self.expect("GET", f"{NS}/actions", (200,), "action list", params={"limit": "30"})

    @task(2)
    def list_activations(self) -> None:
        self.expect("GET", f"{NS}/activations", (200,), "activation list", params={"limit": "10"})

    @task(1)
    def delete(self) -> None:
        self.expect("DELETE", f"{NS}/actions/{self.action}", (200, 404, 409), "action delete")
