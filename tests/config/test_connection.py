"""The Nomad connection: flag > environment > config file > default, read like the Nomad CLI
reads NOMAD_*, secrets never shown."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from reconciler.config.connection import (
    DEFAULT_ADDRESS,
    NomadConfig,
    connection_values,
    parse_address,
)
from reconciler.errors import ConfigError


def _resolve(**sources: Any) -> NomadConfig:
    return NomadConfig.from_values(connection_values(**sources))


SECRET = "0b8f8a3c-5c2e-4f7e-9d2a-5ec7e7f0c0de"


def test_defaults_without_environment() -> None:
    config = NomadConfig.from_env({})
    assert config.address == DEFAULT_ADDRESS
    assert config.token is None
    assert config.namespace is None
    assert config.tls.skip_verify is False


def test_every_variable_is_read() -> None:
    env = {
        "NOMAD_ADDR": "https://nomad.example:4646",
        "NOMAD_TOKEN": SECRET,
        "NOMAD_NAMESPACE": "prod",
        "NOMAD_REGION": "eu",
        "NOMAD_CACERT": "/ca.pem",
        "NOMAD_CAPATH": "/cas",
        "NOMAD_CLIENT_CERT": "/c.pem",
        "NOMAD_CLIENT_KEY": "/k.pem",
        "NOMAD_TLS_SERVER_NAME": "server.global.nomad",
        "NOMAD_SKIP_VERIFY": "true",
        "NOMAD_HTTP_AUTH": "ops:hunter2",
    }
    config = NomadConfig.from_env(env)
    assert config.address == "https://nomad.example:4646"
    assert config.token == SECRET
    assert (config.namespace, config.region) == ("prod", "eu")
    assert (config.tls.ca_cert, config.tls.ca_path) == ("/ca.pem", "/cas")
    assert (config.tls.client_cert, config.tls.client_key) == ("/c.pem", "/k.pem")
    assert config.tls.server_name == "server.global.nomad"
    assert config.tls.skip_verify is True
    assert config.http_auth == ("ops", "hunter2")


def test_empty_variables_count_as_unset() -> None:
    config = NomadConfig.from_env({"NOMAD_ADDR": "", "NOMAD_TOKEN": "", "NOMAD_SKIP_VERIFY": ""})
    assert config.address == DEFAULT_ADDRESS
    assert config.token is None


def test_overrides_beat_environment() -> None:
    config = NomadConfig.from_env(
        {"NOMAD_ADDR": "http://a:1", "NOMAD_NAMESPACE": "env"}, namespace="flag", address=None
    )
    assert config.namespace == "flag"
    assert config.address == "http://a:1"  # a None override means "not given"


def test_token_file_override_replaces_env_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(SECRET + "\n")
    config = NomadConfig.from_env({"NOMAD_TOKEN": "env-token"}, token_file=str(token_file))
    assert config.token is None
    assert config.token_file == str(token_file)


def test_token_and_token_file_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="token file"):
        NomadConfig(token=SECRET, token_file="/x")


@pytest.mark.parametrize("value", ["yes", "2", "on", "no", " true", "tRUE"])
def test_skip_verify_not_accepted_by_go_is_ignored_with_a_warning(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Nomad's api.DefaultConfig (v1.0.18, v2.0.x): `if insecure, err := strconv.ParseBool(v);
    # err == nil {...}`: a value ParseBool refuses leaves verification on.
    with caplog.at_level(logging.WARNING, logger="reconciler.config"):
        config = NomadConfig.from_env({"NOMAD_SKIP_VERIFY": value})
    assert config.tls.skip_verify is False
    assert f"NOMAD_SKIP_VERIFY={value!r}" in caplog.text
    assert "TLS certificates are verified" in caplog.text


@pytest.mark.parametrize(
    "value,expected",
    [*((v, True) for v in ("1", "t", "T", "TRUE", "true", "True")),
     *((v, False) for v in ("0", "f", "F", "FALSE", "false", "False"))],
)  # fmt: skip
def test_skip_verify_parses_like_go(value: str, expected: bool) -> None:
    assert NomadConfig.from_env({"NOMAD_SKIP_VERIFY": value}).tls.skip_verify is expected


def test_empty_address_falls_through_to_the_config_file_then_the_default() -> None:
    file_values = {"address": "http://file:4646"}
    config = _resolve(flags={}, env={"NOMAD_ADDR": ""}, file_values=file_values)
    assert config.address == "http://file:4646"
    assert _resolve(flags={}, env={"NOMAD_ADDR": ""}).address == DEFAULT_ADDRESS
    # An empty flag is not given either (Nomad: `if m.flagAddress != ""`).
    config = _resolve(flags={"address": ""}, env={"NOMAD_ADDR": "http://env:4646"})
    assert config.address == "http://env:4646"


def test_precedence_flag_environment_file_default() -> None:
    file_values = {"address": "http://file:1", "region": "file-r", "namespace": "file-ns",
                   "skip_verify": True}  # fmt: skip
    env = {"NOMAD_ADDR": "http://env:1", "NOMAD_NAMESPACE": "env-ns"}
    config = _resolve(
        flags={"address": "http://flag:1"}, env=env, file_values=file_values
    )
    assert (config.address, config.namespace, config.region) == (
        "http://flag:1", "env-ns", "file-r"
    )
    assert config.tls.skip_verify is True
    assert config.tls.server_name is None  # default


def test_config_file_values_are_checked_and_named() -> None:
    with pytest.raises(ConfigError, match=r"daemon\.toml: nomad\.skip_verify: expected true or false"):
        _resolve(flags={}, env={}, file_values={"skip_verify": "yes"},
                           file_name="daemon.toml")  # fmt: skip
    with pytest.raises(ConfigError, match=r"daemon\.toml: nomad\.adress: unknown setting"):
        _resolve(flags={}, env={}, file_values={"adress": "x"}, file_name="daemon.toml")


def test_client_cert_without_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="NOMAD_CLIENT_KEY"):
        NomadConfig.from_env({"NOMAD_CLIENT_CERT": "/c.pem"})


@pytest.mark.parametrize(
    "address,base_url,socket",
    [
        ("http://127.0.0.1:4646", "http://127.0.0.1:4646", None),
        ("https://nomad:4646/", "https://nomad:4646", None),
        ("127.0.0.1:4646", "http://127.0.0.1:4646", None),
        ("unix:///run/nomad.sock", "http://localhost", "/run/nomad.sock"),
    ],
)
def test_address_forms(address: str, base_url: str, socket: str | None) -> None:
    endpoint = parse_address(address)
    assert endpoint.base_url == base_url
    assert endpoint.unix_socket == socket


@pytest.mark.parametrize("address", ["ftp://x:1", "unix://", "http://:4646", "http://h:port"])
def test_bad_addresses_name_nomad_addr(address: str) -> None:
    with pytest.raises(ConfigError, match="NOMAD_ADDR"):
        NomadConfig(address=address)


def test_secrets_are_not_in_repr() -> None:
    config = NomadConfig.from_env({"NOMAD_TOKEN": SECRET, "NOMAD_HTTP_AUTH": "ops:hunter2"})
    shown = repr(config) + str(config)
    assert SECRET not in shown
    assert "hunter2" not in shown


def test_http_auth_without_password() -> None:
    assert NomadConfig.from_env({"NOMAD_HTTP_AUTH": "ops"}).http_auth == ("ops", "")


def test_the_nomad_cli_recording_agrees(golden: Path) -> None:
    """What the real Nomad 1.0.18 CLI did with the same values (tests/golden/config)."""
    recorded = json.loads((golden / "config" / "nomad-cli-env.json").read_text())
    for value, outcome in recorded["skip_verify"].items():
        config = NomadConfig.from_env({"NOMAD_SKIP_VERIFY": value})
        assert config.tls.skip_verify is (outcome == "skipped"), value
    config = NomadConfig.from_env({"NOMAD_ADDR": ""}, address="")
    assert config.address == recorded["empty_address_dials"]
