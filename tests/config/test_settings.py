"""Settings precedence: flag > environment (Nomad CLI names) > TOML file > default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.config.groups import AnalysisSettings, DaemonSettings
from reconciler.config.http_client import TLSSettings
from reconciler.config.settings import (
    load_analysis,
    load_settings,
    reload_changes,
    reloaded,
    resolve_group,
    resolve_settings,
)
from reconciler.errors import ConfigError


def test_defaults() -> None:
    s = resolve_settings(flags={}, env={}, file_values={})
    assert s == DaemonSettings()
    assert s.policy.self_heal is True
    assert s.policy.promote_after is None
    assert s.timing.resync_interval == 300.0


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
    assert s.timing.resync_interval == 5.0
    assert s.policy.self_heal is False
    assert s.timing.debounce == DaemonSettings().timing.debounce  # default


def test_none_flags_do_not_override() -> None:
    s = resolve_settings(
        flags={"self_heal": None, "nomad": {"address": None}},
        env={"NOMAD_ADDR": "http://env:4646"},
        file_values={"self_heal": False},
    )
    assert s.policy.self_heal is False
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
    assert s.nomad.tls.skip_verify is True
    assert s.nomad.tls.server_name == "server.global.nomad"
    assert s.nomad.tls.ca_cert == "/ca.pem"
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
    assert Path(s.source.jobs_dir) == cfg.parent / "../jobs"
    assert s.policy.promote_after == 120.0
    assert s.retry.backoffs == (0.5, 2.0)
    assert s.nomad.token_file == "/run/token"
    assert s.process.config_file == str(cfg)


def test_reload_changes_split_reloadable_from_restart() -> None:
    old = DaemonSettings()
    new = resolve_settings(
        flags={"self_heal": False, "listen": "0.0.0.0:1", "log_level": "debug"},
        env={}, file_values={},
    )
    applied, restart = reload_changes(old, new)
    assert applied == {"policy.self_heal", "process.log_level"}
    assert restart == {"process.listen"}


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
    """``load_analysis``: the config file's prometheus_* keys, a flag over each; nothing else."""
    config = tmp_path / "reconciler.toml"
    config.write_text('prometheus_url = "http://prom:9090"\nprometheus_ca_cert = "/ca.pem"\n'
                      'prometheus_tls_skip_verify = "true"\njobs_dir = "/srv/jobs"\n')  # fmt: skip
    env = {"NOMAD_RECONCILER_CONFIG": str(config)}
    assert load_analysis({}, env) == AnalysisSettings(
        prometheus_url="http://prom:9090", tls=TLSSettings(ca_cert="/ca.pem", skip_verify=True),
    )  # fmt: skip
    flags = {"prometheus_url": "http://other:9090", "prometheus_ca_cert": None}
    assert load_analysis(flags, env).prometheus_url == "http://other:9090"
    assert load_analysis(flags, env).tls.ca_cert == "/ca.pem"
    assert load_analysis({"prometheus_url": "http://p:9090"}, {}) == AnalysisSettings(prometheus_url="http://p:9090")
    config.write_text("prometheus_tls_skip_verify = 3\n")
    with pytest.raises(ConfigError, match="prometheus_tls_skip_verify"):
        load_analysis({}, env)


def test_group_tables_map_onto_the_groups(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.toml"
    cfg.write_text(
        '[source]\njobs_dir = "jobs"\nvariables = ["a=1"]\n'
        '[policy]\nself_heal = false\npromote_after = "2m"\n'
        '[retry]\nbackoffs = ["1s", "5s"]\nworkers = 2\n'
        '[timing]\ndebounce = "300ms"\n'
        '[process]\nlisten = ""\nlog_format = "JSON"\n'
        '[ui]\nenabled = false\ntoken = "ui-s3cret"\n'
        '[analysis]\nprometheus_url = "http://prom:9090"\n'
        '[analysis.tls]\nca_cert = "/ca.pem"\nserver_name = "prom.internal"\n'
        '[nomad]\nregion = "eu"\n'
    )
    s = load_settings({}, {"NOMAD_RECONCILER_CONFIG": str(cfg)})
    assert Path(s.source.jobs_dir) == tmp_path / "jobs"  # relative to the file, as at the top
    assert s.source.variables == ("a=1",)
    assert s.policy.self_heal is False and s.policy.promote_after == 120.0
    assert s.retry.backoffs == (1.0, 5.0) and s.retry.workers == 2
    assert s.timing.debounce == 0.3
    assert s.process.listen == "" and s.process.log_format == "json"
    assert s.ui.enabled is False and s.ui.token == "ui-s3cret"
    assert s.analysis == AnalysisSettings(
        prometheus_url="http://prom:9090", tls=TLSSettings(ca_cert="/ca.pem", server_name="prom.internal"),
    )  # fmt: skip
    assert s.nomad.region == "eu"
    assert "ui-s3cret" not in repr(s) and "ui-s3cret" not in str(s.redacted())
    # The same settings written the way files before the groups write them: the same value.
    cfg.write_text(
        'jobs_dir = "jobs"\nvariables = ["a=1"]\nself_heal = false\npromote_after = "2m"\n'
        'backoffs = ["1s", "5s"]\nworkers = 2\ndebounce = "300ms"\nlisten = ""\n'
        'log_format = "JSON"\nui = false\nui_token = "ui-s3cret"\n'
        'prometheus_url = "http://prom:9090"\nprometheus_ca_cert = "/ca.pem"\n'
        'prometheus_tls_server_name = "prom.internal"\n[nomad]\nregion = "eu"\n'
    )
    assert load_settings({}, {"NOMAD_RECONCILER_CONFIG": str(cfg)}) == s


def test_a_setting_written_both_ways_is_an_error_naming_both(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.toml"
    cfg.write_text('debounce = "1s"\n[timing]\ndebounce = "2s"\n')
    with pytest.raises(ConfigError, match=r"daemon\.toml: debounce and timing\.debounce are the same setting"):
        load_settings({"config_file": str(cfg)}, {})
    cfg.write_text('prometheus_ca_cert = "/a.pem"\n[analysis.tls]\nca_cert = "/b.pem"\n')
    with pytest.raises(ConfigError, match=r"prometheus_ca_cert and analysis\.tls\.ca_cert"):
        load_settings({"config_file": str(cfg)}, {})
    # A flag over the file is precedence, not a conflict.
    cfg.write_text('[timing]\ndebounce = "2s"\ndebounce_max = "5s"\n')
    assert load_settings({"config_file": str(cfg), "debounce": "1s"}, {}).timing.debounce == 1.0


def test_unknown_keys_in_a_group_table_name_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.toml"
    for text, where in (
        ("[timing]\ndebounse = 1\n", r"timing\.debounse"),
        ("[policy]\ndebounce = 1\n", r"policy\.debounce"),  # a setting of another group
        ("[analysis.tls]\nca = '/x'\n", r"analysis\.tls\.ca"),
        ("[bogus]\nx = 1\n", r"bogus"),
    ):
        cfg.write_text(text)
        with pytest.raises(ConfigError, match=rf"daemon\.toml: {where}: unknown setting"):
            load_settings({"config_file": str(cfg)}, {})
    cfg.write_text("[timing]\nsettle = 'soon'\n")
    with pytest.raises(ConfigError, match=r"daemon\.toml: timing\.settle: invalid duration"):
        load_settings({"config_file": str(cfg)}, {})


def test_reload_works_by_field_path(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.toml"
    cfg.write_text('[timing]\ndebounce = "200ms"\n[process]\nlisten = "127.0.0.1:1"\n'
                   '[nomad]\naddress = "http://old:4646"\ntoken = "old-token-value"\n')  # fmt: skip
    old = load_settings({"config_file": str(cfg)}, {})
    cfg.write_text('[timing]\ndebounce = "500ms"\n[process]\nlisten = "127.0.0.1:2"\n'
                   '[analysis.tls]\nskip_verify = true\n'
                   '[nomad]\naddress = "http://new:4646"\ntoken_file = "/run/token"\n')  # fmt: skip
    new = load_settings({"config_file": str(cfg)}, {})
    applied, restart = reload_changes(old, new)
    assert applied == {"timing.debounce"}
    assert restart == {"process.listen", "analysis.tls.skip_verify", "nomad.address",
                       "nomad.token", "nomad.token_file"}  # fmt: skip
    running, applied_again, _ = reloaded(old, new)
    assert applied_again == applied
    assert running.timing.debounce == 0.5  # applied
    assert running.process.listen == "127.0.0.1:1"  # needs a restart: kept
    assert running.analysis.tls.skip_verify is False
    assert running.nomad == old.nomad  # the connection is kept whole (token xor token file)


def test_one_shot_commands_parse_their_groups_as_the_daemon() -> None:
    policy = resolve_group("policy", {"prune": True, "max_prune": "0.25", "max_concurrent_deployments": None})
    assert (policy.prune, policy.max_prune, policy.max_concurrent_deployments) == (True, 0.25, 0)
    with pytest.raises(ConfigError, match=r"--max-prune: expected a fraction between 0 and 1"):
        resolve_group("policy", {"max_prune": "1.5"})
    source = resolve_group("source", {"jobs_dir": "jobs", "max_file_size": "1KiB", "variables": ["a=1"]})
    assert (source.jobs_dir, source.max_file_size, source.variables) == ("jobs", 1024, ("a=1",))


def test_the_documented_config_files_load(tmp_path: Path) -> None:
    """Every TOML example of the README and docs/configuration.md is a valid config file."""
    root = Path(__file__).resolve().parents[2]
    blocks = [block for doc in ("README.md", "docs/configuration.md")
              for block in re.findall(r"```toml\n(.*?)```", (root / doc).read_text(), flags=re.DOTALL)]  # fmt: skip
    assert len(blocks) >= 2
    for block in blocks:
        cfg = tmp_path / "daemon.toml"
        cfg.write_text(block)
        settings = load_settings({"config_file": str(cfg)}, {})
        assert settings.nomad.token_file == "/run/secrets/nomad-token"
        assert settings.timing.resync_interval == 300.0 and settings.policy.promote_after == 120.0
