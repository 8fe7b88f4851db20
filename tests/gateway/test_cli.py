"""The `whisklet namespace` commands an operator uses to set a namespace's throttles."""

from __future__ import annotations

import pytest

from gateway.cli import main


@pytest.fixture
def data_dir(tmp_path):
    assert main(["namespace", "create", "tenant", "--data-dir", str(tmp_path), "--fires-per-minute", "5"]) == 0
    return str(tmp_path)


def limits(capsys, data_dir: str, *flags: str) -> dict[str, tuple[str, str]]:
    capsys.readouterr()
    assert main(["namespace", "limits", "tenant", "--data-dir", data_dir, *flags]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    return {name: (value, source) for name, value, source in rows}


def test_limits_shows_each_throttle_and_where_its_value_comes_from(capsys, data_dir):
    assert limits(capsys, data_dir) == {
        "invocationsPerMinute": ("60", "system default"),
        "concurrentInvocations": ("30", "system default"),
        "firesPerMinute": ("5", "namespace"),
        "egress": ("internet", "system default"),
    }


def test_limits_overrides_only_the_throttles_given_and_keeps_the_others(capsys, data_dir):
    shown = limits(capsys, data_dir, "--invocations-per-minute", "600", "--concurrent-invocations", "0")
    assert shown["invocationsPerMinute"] == ("600", "namespace")
    assert shown["concurrentInvocations"] == ("0", "namespace")
    assert shown["firesPerMinute"] == ("5", "namespace")
    assert limits(capsys, data_dir) == shown


def test_reset_returns_to_the_system_defaults_before_applying_the_flags(capsys, data_dir):
    shown = limits(capsys, data_dir, "--reset", "--invocations-per-minute", "1")
    assert shown == {
        "invocationsPerMinute": ("1", "namespace"),
        "concurrentInvocations": ("30", "system default"),
        "firesPerMinute": ("60", "system default"),
        "egress": ("internet", "system default"),
    }


def test_a_negative_limit_or_an_unknown_namespace_is_refused(capsys, data_dir):
    with pytest.raises(SystemExit) as exited:
        main(["namespace", "limits", "tenant", "--data-dir", data_dir, "--fires-per-minute", "-1"])
    assert exited.value.code == 2
    assert main(["namespace", "limits", "nobody", "--data-dir", data_dir]) == 1
    assert "namespace 'nobody' does not exist" in capsys.readouterr().err


def test_egress_is_overridden_per_namespace_and_an_unknown_mode_is_refused_with_the_valid_ones(capsys, data_dir):
    assert limits(capsys, data_dir, "--egress", "api")["egress"] == ("api", "namespace")
    assert limits(capsys, data_dir)["egress"] == ("api", "namespace")
    with pytest.raises(SystemExit) as exited:
        main(["namespace", "limits", "tenant", "--data-dir", data_dir, "--egress", "everywhere"])
    assert exited.value.code == 2
    assert "--egress must be one of 'none', 'api', 'internet', not 'everywhere'" in capsys.readouterr().err
    assert limits(capsys, data_dir, "--reset")["egress"] == ("internet", "system default")
