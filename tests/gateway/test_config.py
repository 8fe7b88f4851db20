import re
from pathlib import Path

import msgspec
import pytest

from gateway.config import DEFAULTS_FILE, Config, ConfigError, load_config

README = Path(__file__).resolve().parents[2] / "README.md"


def all_keys() -> list[str]:
    return [
        f"{section.name}.{key.name}"
        for section in msgspec.structs.fields(Config)
        for key in msgspec.structs.fields(section.type)
    ]


def test_defaults_file_sets_exactly_the_built_in_defaults():
    assert load_config(environ={}) == Config()


def test_every_key_is_in_the_defaults_file_and_the_readme_table():
    toml = DEFAULTS_FILE.read_text()
    readme = README.read_text()
    for dotted in all_keys():
        section, key = dotted.split(".")
        assert re.search(rf"^{key} = ", toml, re.M), f"{dotted} missing from config/whisklet.toml"
        assert f"`{dotted}`" in readme or f"`{key}`" in readme.split(f"`{section}.", 1)[1], (
            f"{dotted} missing from the README's configuration table"
        )


def test_environment_overrides_the_file_and_flags_override_the_environment(tmp_path):
    user = tmp_path / "user.toml"
    user.write_text("[server]\nport = 4000\n[pool]\nmin_prewarm = 5\n")
    config = load_config(user, environ={"WHISKLET_SERVER_PORT": "4001"}, overrides={"server.host": "::1"})
    assert (config.server.port, config.server.host, config.pool.min_prewarm) == (4001, "::1", 5)
    assert load_config(user, environ={}, overrides={"server.port": 4002}).server.port == 4002


def test_data_dir_short_variable_is_accepted():
    assert str(load_config(environ={"WHISKLET_DATA_DIR": "/srv/wl"}).data_dir) == "/srv/wl"


def test_a_bad_value_names_the_key():
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_config(environ={"WHISKLET_SERVER_PORT": "many"})


def test_an_out_of_range_pool_value_names_the_key():
    with pytest.raises(ConfigError, match=r"pool\.headroom"):
        load_config(environ={"WHISKLET_POOL_HEADROOM": "0.5"})


def test_an_unknown_variable_says_what_is_expected():
    with pytest.raises(ConfigError, match="WHISKLET_SERVER_PORT"):
        load_config(environ={"WHISKLET_SERVR_PORT": "1"})


def test_an_unknown_key_in_a_file_is_refused(tmp_path):
    user = tmp_path / "user.toml"
    user.write_text("[pool]\nminimum = 1\n")
    with pytest.raises(ConfigError, match="minimum"):
        load_config(user, environ={})


def test_an_unknown_egress_or_a_malformed_deny_network_names_the_key_and_what_is_valid():
    with pytest.raises(ConfigError, match=r"limits\.egress must be one of 'none', 'api', 'internet'"):
        load_config(environ={"WHISKLET_LIMITS_EGRESS": "open"})
    with pytest.raises(ConfigError, match=r"limits\.egress_deny: '10\.0\.0\.0/33' is not a network"):
        load_config(environ={"WHISKLET_LIMITS_EGRESS_DENY": '["10.0.0.0/33"]'})
    assert load_config(environ={"WHISKLET_LIMITS_EGRESS_DENY": '["10.0.0.0/8"]'}).limits.egress_deny == ["10.0.0.0/8"]
