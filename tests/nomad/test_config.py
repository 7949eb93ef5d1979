"""NomadConfig reads NOMAD_* like the Nomad CLI and never shows secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.nomad.config import (
    DEFAULT_ADDRESS,
    NomadConfig,
    TokenSource,
    parse_address,
)

SECRET = "0b8f8a3c-5c2e-4f7e-9d2a-5ec7e7f0c0de"


def test_defaults_without_environment() -> None:
    config = NomadConfig.from_env({})
    assert config.address == DEFAULT_ADDRESS
    assert config.token is None
    assert config.namespace is None
    assert config.skip_verify is False


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
    assert (config.ca_cert, config.ca_path) == ("/ca.pem", "/cas")
    assert (config.client_cert, config.client_key) == ("/c.pem", "/k.pem")
    assert config.tls_server_name == "server.global.nomad"
    assert config.skip_verify is True
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


@pytest.mark.parametrize("value", ["yes", "2", "on"])
def test_bad_skip_verify_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="NOMAD_SKIP_VERIFY"):
        NomadConfig.from_env({"NOMAD_SKIP_VERIFY": value})


@pytest.mark.parametrize("value,expected", [("1", True), ("0", False), ("FALSE", False)])
def test_skip_verify_parses_like_go(value: str, expected: bool) -> None:
    assert NomadConfig.from_env({"NOMAD_SKIP_VERIFY": value}).skip_verify is expected


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


def test_token_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    source = TokenSource(token_file=str(token_file))
    assert source.current() == "first"
    token_file.write_text("second-token\n")
    # Force a distinct mtime even on coarse-grained filesystems.
    st = token_file.stat()
    os.utime(token_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert source.current() == "second-token"
    assert "second-token" not in repr(source)


def test_missing_token_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    source = TokenSource(token_file=str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="absent"):
        source.current()


def test_token_file_briefly_missing_keeps_the_last_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("kept\n")
    source = TokenSource(token_file=str(token_file))
    assert source.current() == "kept"
    token_file.unlink()  # a rotation that deletes before it re-creates
    assert source.current() == "kept"
    token_file.write_text("new-one\n")
    assert source.current() == "new-one"
