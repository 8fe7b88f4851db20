"""Whisklet's configuration: `config/whisklet.toml` defaults < a user file < `WHISKLET_*` env < flags."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct

from pool import EGRESS_MODES, DockerSettings, Egress, PoolConfig

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "config" / "whisklet.toml"


def egress_mode(value: str, what: str) -> Egress:
    """`value` as an egress mode; ValueError naming `what` and the valid values otherwise."""
    for mode in EGRESS_MODES:
        if value == mode:
            return mode
    valid = ", ".join(f"'{mode}'" for mode in EGRESS_MODES)
    raise ValueError(f"{what} must be one of {valid}, not {value!r}")


class ServerConfig(Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 3233
    data_dir: str = ""  # empty: $XDG_DATA_HOME/whisklet or ~/.local/share/whisklet
    api_host: str = ""  # APIHOST written to wskprops; empty: http://<host>:<port>
    shutdown_grace_s: float = 30.0
    max_connections: int = 1000
    max_request_head_bytes: int = 65536
    max_request_headers: int = 100
    request_head_timeout_s: float = 10.0
    request_body_idle_s: float = 30.0


class LimitsConfig(Struct, forbid_unknown_fields=True):
    invocations_per_minute: int = 60
    concurrent_invocations: int = 30
    fires_per_minute: int = 60
    timeout_min_ms: int = 100
    timeout_max_ms: int = 300000
    timeout_default_ms: int = 60000
    memory_min_mb: int = 128
    memory_max_mb: int = 512
    memory_default_mb: int = 256
    logs_min_mb: int = 0
    logs_max_mb: int = 10
    logs_default_mb: int = 10
    concurrency_min: int = 1
    concurrency_max: int = 1
    concurrency_default: int = 1
    payload_max_bytes: int = 1048576
    parameters_max_bytes: int = 1048576
    code_max_bytes: int = 50331648
    result_max_bytes: int = 1048576
    sequence_max_length: int = 50
    blocking_wait_max_ms: int = 60000
    egress: str = "internet"  # none | api | internet; a namespace may override it
    egress_deny: list[str] = msgspec.field(default_factory=list)  # CIDRs, beside the always-denied ones

    def __post_init__(self) -> None:
        egress_mode(self.egress, "limits.egress")
        for cidr in self.egress_deny:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"limits.egress_deny: {cidr!r} is not a network such as 10.0.0.0/8") from None


class StoreConfig(Struct, forbid_unknown_fields=True):
    url: str = ""  # sqlite:///abs/path or postgresql://user[:pw]@host[:port]/db; empty: data_dir/whisklet.db
    node_id: str = ""  # this node's id; empty: generated once and kept in data_dir/node-id
    node_lapse_s: float = 30.0  # a node silent this long is dead: another takes over its activations
    activation_retention_days: float = 7.0
    max_activations: int = 1_000_000
    flush_interval_ms: int = 50


class LogForwardingConfig(Struct, forbid_unknown_fields=True):
    allow_http: bool = False
    allow_networks: list[str] = msgspec.field(default_factory=list)
    queue_max_bytes: int = 4_194_304
    batch_max_bytes: int = 1_000_000
    batch_max_events: int = 1000
    batch_wait_ms: int = 200
    request_timeout_s: float = 10.0
    retries: int = 4
    retry_base_ms: int = 500
    azure_data_collector_url: str = ""


class Config(Struct, forbid_unknown_fields=True):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    limits: LimitsConfig = msgspec.field(default_factory=LimitsConfig)
    pool: PoolConfig = msgspec.field(default_factory=PoolConfig)
    docker: DockerSettings = msgspec.field(default_factory=DockerSettings)
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    logfwd: LogForwardingConfig = msgspec.field(default_factory=LogForwardingConfig)

    @property
    def data_dir(self) -> Path:
        if self.server.data_dir:
            return Path(self.server.data_dir).expanduser()
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(base) / "whisklet"


class ConfigError(Exception):
    """A configuration value is wrong; the message names the key and what was expected."""


ENV_PREFIX = "WHISKLET_"
# WHISKLET_ variables that are not `<SECTION>_<KEY>`: the config file, and the test suite's switches
# (scripts/test), which reach every `whisklet` the tests start.
_NOT_SETTINGS = frozenset(
    {"WHISKLET_CONFIG", "WHISKLET_REQUIRE_DOCKER", "WHISKLET_FAULT_TESTS", "WHISKLET_TEST_POSTGRES_URL"}
)


def load_config(
    file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Merge the defaults file, an optional user file, `WHISKLET_<SECTION>_<KEY>` variables and
    `overrides` (dotted keys such as `server.port`, from flags), then validate."""
    environ = os.environ if environ is None else environ
    merged: dict[str, dict[str, Any]] = {}
    for path in (DEFAULTS_FILE, file or environ.get("WHISKLET_CONFIG")):
        if path:
            _merge(merged, _read_toml(Path(path)))
    known = {
        section.name: {key.name for key in msgspec.structs.fields(section.type)}
        for section in msgspec.structs.fields(Config)
    }
    for variable, text in environ.items():
        if not variable.startswith(ENV_PREFIX) or variable in _NOT_SETTINGS:
            continue
        section, key = _env_key(variable[len(ENV_PREFIX):], known)
        merged.setdefault(section, {})[key] = _parse_env_value(text)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            section, _, key = dotted.partition(".")
            merged.setdefault(section, {})[key] = value
    try:
        return msgspec.convert(merged, Config, strict=False)
    except msgspec.ValidationError as error:
        raise ConfigError(f"invalid configuration: {error}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"configuration file {path} is not valid TOML: {error}") from None


def _merge(into: dict[str, dict[str, Any]], data: dict[str, Any]) -> None:
    for section, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"configuration key '{section}' must be a table such as [{section}]")
        into.setdefault(section, {}).update(values)


def _env_key(suffix: str, known: dict[str, set[str]]) -> tuple[str, str]:
    lowered = suffix.lower()
    for section, keys in known.items():
        if lowered.startswith(section + "_") and lowered[len(section) + 1:] in keys:
            return section, lowered[len(section) + 1:]
    if lowered == "data_dir":  # WHISKLET_DATA_DIR, the documented short form
        return "server", "data_dir"
    raise ConfigError(
        f"environment variable {ENV_PREFIX}{suffix} names no configuration key; "
        f"expected {ENV_PREFIX}<SECTION>_<KEY>, e.g. WHISKLET_SERVER_PORT"
    )


def _parse_env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
