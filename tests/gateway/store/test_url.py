from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from gateway.store.url import parse_store_url


def test_an_empty_url_is_the_data_directorys_sqlite_file():
    url = parse_store_url("", Path("/data"))
    assert (url.engine, url.path) == ("sqlite", Path("/data/whisklet.db"))


def test_a_sqlite_url_names_an_absolute_file():
    url = parse_store_url("sqlite:///var/lib/whisklet/w.db", Path("/data"))
    assert (url.engine, url.path) == ("sqlite", Path("/var/lib/whisklet/w.db"))


def test_a_postgresql_url_keeps_its_dsn_and_never_shows_its_password():
    url = parse_store_url("postgresql://alice:s3cret@127.0.0.1:5432/whisk", Path("/data"))
    assert (url.engine, url.dsn) == ("postgresql", "postgresql://alice:s3cret@127.0.0.1:5432/whisk")
    assert "s3cret" not in url.shown and "alice" in url.shown


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sqlite://relative.db", "absolute file path"),
        ("sqlite:///var/lib/", "names a file"),
        ("mysql://a@b/c", "must start with sqlite:// or postgresql://"),
        ("postgresql://alice@127.0.0.1:99999/db", "port"),
        ("postgresql://alice@127.0.0.1:x/db", "port"),
        ("postgresql://alice@127.0.0.1", "database name"),
        ("postgresql://127.0.0.1/db", "user name"),
        ("postgresql://alice:pw@/db", "host"),
    ],
)
def test_a_bad_url_says_what_is_wrong_and_gives_an_example(text: str, says: str):
    with pytest.raises(ConfigError) as raised:
        parse_store_url(text, Path("/data"))
    message = str(raised.value)
    assert says in message
    assert "e.g. sqlite:///" in message and "postgresql://" in message
    assert ":pw@" not in message


def test_the_url_comes_from_the_environment_as_the_other_settings_do():
    config = load_config(environ={"WHISKLET_STORE_URL": "postgresql://a@127.0.0.1/db"})
    assert config.store.url == "postgresql://a@127.0.0.1/db"


def test_the_test_suites_postgresql_url_is_not_taken_for_a_setting():
    load_config(environ={"WHISKLET_TEST_POSTGRES_URL": "postgresql://a@127.0.0.1/db"})
