"""Settings precedence: flag > environment (Nomad CLI names) > TOML file > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config.settings import (
    DaemonSettings,
    given_analysis,
    load_settings,
    reload_changes,
    resolve_settings,
)
from reconciler.errors import ConfigError


def test_defaults() -> None:
    s = resolve_settings(flags={}, env={}, file_values={})
    assert s == DaemonSettings()
    assert s.self_heal is True
    assert s.promote_after is None
    assert s.resync_interval == 300.0


def test_precedence_flag_over_env_over_file_over_default() -> None:
    file_values = {
        "nomad": {"address": "http://file:4646", "namespace": "file-ns", "region": "file-r"},
        "resync_interval": "10m",
        "self_heal": False,
    }
    env = {"NOMAD_ADDR": "http://env:4646", "NOMAD_NAMESPACE": "env-ns"}
    flags = {"nomad": {"address": "http://flag:4646"}, "resync_interval": 5}
    s = resolve_settings(flags=flags, env=env, file_values=file_values)
    assert s.nomad.address == "http://flag:4646"  # flag beats env and file
    assert s.nomad.namespace == "env-ns"  # env beats file
    assert s.nomad.region == "file-r"  # file beats default
    assert s.resync_interval == 5.0
    assert s.self_heal is False
    assert s.debounce == DaemonSettings().debounce  # default


def test_none_flags_do_not_override() -> None:
    s = resolve_settings(
        flags={"self_heal": None, "nomad": {"address": None}},
        env={"NOMAD_ADDR": "http://env:4646"},
        file_values={"self_heal": False},
    )
    assert s.self_heal is False
    assert s.nomad.address == "http://env:4646"


def test_environment_uses_nomad_cli_names() -> None:
    env = {
        "NOMAD_TOKEN": "s3cr3t-token",
        "NOMAD_SKIP_VERIFY": "1",
        "NOMAD_TLS_SERVER_NAME": "server.global.nomad",
        "NOMAD_CACERT": "/ca.pem",
        "NOMAD_REGION": "eu",
        "UNRELATED": "x",
    }
    s = resolve_settings(flags={}, env=env, file_values={})
    assert s.nomad.token == "s3cr3t-token"
    assert s.nomad.skip_verify is True
    assert s.nomad.tls_server_name == "server.global.nomad"
    assert s.nomad.ca_cert == "/ca.pem"
    assert s.nomad.region == "eu"
    # The token never shows up in the repr or the loggable view.
    assert "s3cr3t-token" not in repr(s)
    assert "s3cr3t-token" not in str(s.redacted())


def test_config_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.toml"
    cfg.write_text('resync_interval = "often"\n')
    with pytest.raises(ConfigError, match=r"daemon\.toml: resync_interval: invalid duration"):
        load_settings({"config_file": str(cfg)}, {})
    cfg.write_text("bogus_key = 1\n")
    with pytest.raises(ConfigError, match=r"daemon\.toml: bogus_key: unknown setting"):
        load_settings({"config_file": str(cfg)}, {})
    cfg.write_text("[nomad]\nadress = 'x'\n")
    with pytest.raises(ConfigError, match=r"nomad\.adress: unknown setting"):
        load_settings({"config_file": str(cfg)}, {})
    cfg.write_text("listen = \n")
    with pytest.raises(ConfigError, match=r"daemon\.toml: invalid TOML: .*line 1"):
        load_settings({"config_file": str(cfg)}, {})
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings({"config_file": str(tmp_path / "missing.toml")}, {})


def test_config_file_found_through_environment_and_relative_jobs_dir(tmp_path: Path) -> None:
    cfg = tmp_path / "etc" / "daemon.toml"
    cfg.parent.mkdir()
    cfg.write_text(
        'jobs_dir = "../jobs"\npromote_after = "2m"\nbackoffs = [0.5, "2s"]\n'
        '[nomad]\naddress = "http://file:4646"\ntoken_file = "/run/token"\n'
    )
    s = load_settings({}, {"NOMAD_RECONCILER_CONFIG": str(cfg)})
    assert Path(s.jobs_dir) == cfg.parent / "../jobs"
    assert s.promote_after == 120.0
    assert s.backoffs == (0.5, 2.0)
    assert s.nomad.token_file == "/run/token"
    assert s.config_file == str(cfg)


def test_reload_changes_split_reloadable_from_restart() -> None:
    old = DaemonSettings()
    new = resolve_settings(
        flags={"self_heal": False, "listen": "0.0.0.0:1", "log_level": "debug"},
        env={}, file_values={},
    )
    applied, restart = reload_changes(old, new)
    assert applied == {"self_heal", "log_level"}
    assert restart == {"listen"}


def test_debounce_max_must_cover_debounce() -> None:
    with pytest.raises(ConfigError, match="debounce_max"):
        resolve_settings(flags={"debounce": 2, "debounce_max": 1}, env={}, file_values={})


def test_token_file_flag_beats_token_in_environment() -> None:
    s = resolve_settings(
        flags={"nomad": {"token_file": "/run/token"}},
        env={"NOMAD_TOKEN": "from-env-token"},
        file_values={},
    )
    assert s.nomad.token_file == "/run/token" and s.nomad.token is None
    s = resolve_settings(
        flags={}, env={"NOMAD_TOKEN": "from-env-token"},
        file_values={"nomad": {"token_file": "/run/token"}},
    )
    assert s.nomad.token == "from-env-token" and s.nomad.token_file is None
    with pytest.raises(ConfigError, match="not both"):
        resolve_settings(flags={}, env={},
                         file_values={"nomad": {"token": "x", "token_file": "/run/token"}})


def test_sync_and_status_read_the_analysis_settings_as_the_daemon(tmp_path: Path) -> None:
    """``given_analysis``: the config file's prometheus_* keys, a flag over each; nothing else."""
    config = tmp_path / "reconciler.toml"
    config.write_text('prometheus_url = "http://prom:9090"\nprometheus_ca_cert = "/ca.pem"\n'
                      'prometheus_tls_skip_verify = "true"\njobs_dir = "/srv/jobs"\n')  # fmt: skip
    env = {"NOMAD_RECONCILER_CONFIG": str(config)}
    assert given_analysis({}, env) == {
        "prometheus_url": "http://prom:9090", "prometheus_ca_cert": "/ca.pem",
        "prometheus_tls_skip_verify": True,
    }  # fmt: skip
    flags = {"prometheus_url": "http://other:9090", "prometheus_ca_cert": None}
    assert given_analysis(flags, env)["prometheus_url"] == "http://other:9090"
    assert given_analysis(flags, env)["prometheus_ca_cert"] == "/ca.pem"
    assert given_analysis({"prometheus_url": "http://p:9090"}, {}) == {"prometheus_url": "http://p:9090"}
    config.write_text("prometheus_tls_skip_verify = 3\n")
    with pytest.raises(ConfigError, match="prometheus_tls_skip_verify"):
        given_analysis({}, env)
