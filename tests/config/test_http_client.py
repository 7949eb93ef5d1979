"""One HTTP client settings builder for Nomad and Prometheus: the same options mean the same TLS."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from reconciler.config.connection import NomadConfig
from reconciler.config.http_client import TLSSettings
from reconciler.errors import ConfigError
from reconciler.prometheus import PrometheusConfig


def test_plain_http_uses_no_tls_options() -> None:
    for settings in (
        NomadConfig(address="http://nomad:4646", tls=TLSSettings(server_name="nomad.internal")).http_settings(),
        PrometheusConfig(url="http://prom:9090", tls=TLSSettings(server_name="prom.internal")).http_settings(),
    ):
        assert settings.tls is None
        assert settings.verify() is True
        assert settings.extensions() == {}


def test_https_settings_of_both_clients_agree() -> None:
    nomad = NomadConfig(
        address="https://nomad:4646", tls=TLSSettings(server_name="server.global.nomad", skip_verify=True),
        http_auth=("ops", "pw"), timeout=7.0,
    ).http_settings()  # fmt: skip
    prometheus = PrometheusConfig(
        url="https://ops:pw@prom:9090/", tls=TLSSettings(server_name="server.global.nomad", skip_verify=True),
        timeout=7.0,
    ).http_settings()  # fmt: skip
    for settings in (nomad, prometheus):
        assert settings.extensions() == {"sni_hostname": "server.global.nomad"}
        assert settings.basic_auth == ("ops", "pw")
        assert settings.timeout == 7.0
        context = settings.verify()
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    assert nomad.base_url == "https://nomad:4646"
    assert prometheus.base_url == "https://prom:9090"


def test_unix_socket_reaches_the_nomad_settings() -> None:
    settings = NomadConfig(address="unix:///run/nomad.sock").http_settings()
    assert settings.unix_socket == "/run/nomad.sock" and settings.tls is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (lambda ca: NomadConfig(address="https://n:4646", tls=TLSSettings(ca_cert=ca)).http_settings(),
         r"NOMAD_CACERT/NOMAD_CAPATH .*missing\.pem: cannot load CA"),
        (lambda ca: PrometheusConfig(url="https://p:9090", tls=TLSSettings(ca_cert=ca)).http_settings(),
         r"Prometheus CA certificate .*missing\.pem: cannot load"),
    ],
)  # fmt: skip
def test_an_unreadable_ca_is_named_in_the_words_of_its_setting(settings, message, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(str(tmp_path / "missing.pem")).verify()
