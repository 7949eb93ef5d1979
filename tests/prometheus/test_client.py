"""The Prometheus client: against a real Prometheus scraping a loopback exporter the
test drives, and against a small loopback stub for what a stock Prometheus cannot
show (bearer tokens, basic auth, TLS, a 503).

The real-Prometheus tests are skipped only when no ``prometheus`` binary is
installed (Debian package ``prometheus``; .ci/run installs it).
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import trustme

from reconciler.config.http_client import TLSSettings
from reconciler.errors import ConfigError, PrometheusQueryError, PrometheusUnavailableError
from reconciler.prometheus import PrometheusClient, PrometheusConfig, RequestRecord
from reconciler.secrets import scrub
from tests.support.exporter import MetricsExporter, running_exporter
from tests.support.network import QuietHandler, serving
from tests.support.prometheus import PROMETHEUS, Prometheus, running_prometheus

needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus not on PATH (Debian package 'prometheus'; .ci/run installs it)",
)


@pytest.fixture(scope="module")
def real() -> Iterator[tuple[Prometheus, MetricsExporter]]:
    if PROMETHEUS is None:
        pytest.skip("prometheus not on PATH")
    import tempfile

    with running_exporter() as (target, exporter), tempfile.TemporaryDirectory() as workdir:
        exporter.set_gauge("canary_latency_seconds", 0.12, alloc_id="a1", group="web")
        exporter.set_gauge("canary_latency_seconds", 0.30, alloc_id="a2", group="web")
        exporter.set_rate("canary_requests_total", 10.0, alloc_id="a1")
        with running_prometheus(target, Path(workdir)) as prom:
            yield prom, exporter


@needs_prometheus
async def test_an_instant_query_returns_one_value_per_series(real: tuple[Prometheus, MetricsExporter]) -> None:
    prom, _ = real
    async with PrometheusClient(PrometheusConfig(url=prom.url)) as client:
        values = await client.query('canary_latency_seconds{group="web"}')
        assert sorted(values) == [0.12, 0.30]
        assert await client.query("max(canary_latency_seconds)") == (0.30,)
        assert await client.query("scalar(max(canary_latency_seconds)) * 2") == (0.60,)
        assert await client.query('canary_latency_seconds{group="none"}') == ()
        # a query at a moment before any data: nothing, not an error
        assert await client.query("canary_latency_seconds", at=time.time() - 3600) == ()


@needs_prometheus
async def test_rate_of_a_driven_counter(real: tuple[Prometheus, MetricsExporter]) -> None:
    prom, _ = real
    async with PrometheusClient(PrometheusConfig(url=prom.url)) as client:

        async def measured() -> float:
            (value,) = await client.query("rate(canary_requests_total[5s])")
            return value

        value = await measured()
        assert 5.0 < value < 15.0  # 10/s, give or take a scrape's jitter


@needs_prometheus
async def test_a_range_query_returns_values_per_step(real: tuple[Prometheus, MetricsExporter]) -> None:
    prom, _ = real
    now = time.time()
    async with PrometheusClient(PrometheusConfig(url=prom.url)) as client:
        points = await client.query_range("max(canary_latency_seconds)", start=now - 2, end=now, step=1)
    assert points and set(map(tuple, points.values())) == {(0.30,)}
    assert all(now - 2.001 <= t <= now + 0.001 for t in points)


@needs_prometheus
async def test_refusals_keep_prometheus_text(real: tuple[Prometheus, MetricsExporter]) -> None:
    prom, _ = real
    async with PrometheusClient(PrometheusConfig(url=prom.url)) as client:
        with pytest.raises(PrometheusQueryError, match=r"bad_data: .*parse error") as caught:
            await client.query("sum(rate(x[1m])")
        assert not caught.value.retryable  # the template must change
        with pytest.raises(PrometheusQueryError, match="returns a matrix"):
            await client.query("canary_latency_seconds[1m]")


@needs_prometheus
async def test_prometheus_parses_queries(real: tuple[Prometheus, MetricsExporter]) -> None:
    prom, _ = real
    async with PrometheusClient(PrometheusConfig(url=prom.url)) as client:
        assert await client.parse_query("sum(rate(x[1m]))") is None
        verdict = await client.parse_query("sum(rate(x[1m])) by")
        assert verdict is not None and verdict.startswith("1:") and "parse error" in verdict


async def test_an_unreachable_prometheus_is_unavailable_and_counted() -> None:
    records: list[RequestRecord] = []
    config = PrometheusConfig(url="http://127.0.0.1:9", timeout=5)
    async with PrometheusClient(config, on_request=records.append) as client:
        with pytest.raises(PrometheusUnavailableError, match=r"cannot reach http://127.0.0.1:9") as caught:
            await client.query("up")
    assert caught.value.retryable
    assert [(r.endpoint, r.status) for r in records] == [("/api/v1/query", "error")]


# --- a stub for auth, TLS and outages -----------------------------------------------------


class Stub:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, list[str]]]] = []
        self.status = 200
        self.body: Any = {"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [1.0, "NaN"]}, {"metric": {"a": "b"}, "value": [1.0, "+Inf"]}]}}  # fmt: skip


@contextmanager
def stub_server(ssl_context: ssl.SSLContext | None = None) -> Iterator[tuple[str, Stub]]:
    stub = Stub()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            stub.requests.append((self.path, dict(self.headers.items()), form))
            body = json.dumps(stub.body).encode() if not isinstance(stub.body, str) else stub.body.encode()
            self.reply(stub.status, body)

    with serving(Handler, ssl_context=ssl_context) as url:
        yield url, stub


async def test_bearer_token_from_a_file_is_sent_and_rotation_is_picked_up(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first-secret-token\n")
    with stub_server() as (url, stub):
        async with PrometheusClient(PrometheusConfig(url=url + "/prom/", token_file=str(token_file))) as client:
            values = await client.query('up{job="x"}', at=1700000000.5)
            token_file.write_text("second-secret-token-longer\n")
            await client.query("up")
    (path, headers, form), (_, rotated, _) = stub.requests
    assert path == "/prom/api/v1/query"
    assert form == {"query": ['up{job="x"}'], "time": ["1700000000.500"]}
    assert headers["Authorization"] == "Bearer first-secret-token"
    assert rotated["Authorization"] == "Bearer second-secret-token-longer"
    assert values[1] == float("inf") and values[0] != values[0]  # NaN kept as NaN
    assert scrub("token first-secret-token") == "token <redacted>"


async def test_basic_auth_from_the_url_and_never_in_messages() -> None:
    with stub_server() as (url, stub):
        stub.status, stub.body = 503, "Service Unavailable"
        config = PrometheusConfig(url=url.replace("http://", "http://reader:s3cret-pass@"))
        assert "s3cret-pass" not in repr(config)
        async with PrometheusClient(config) as client:
            with pytest.raises(PrometheusUnavailableError) as caught:
                await client.query("up")
    assert "HTTP 503: Service Unavailable" in str(caught.value)
    assert stub.requests[0][1]["Authorization"].startswith("Basic ")
    assert "s3cret-pass" not in str(caught.value)
    assert "s3cret" not in scrub("password s3cret-pass")


async def test_tls_with_a_ca_and_a_server_name(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("prometheus.internal").configure_cert(context)
    with stub_server(context) as (url, _stub):
        named = PrometheusConfig(url=url, tls=TLSSettings(ca_cert=str(ca_file), server_name="prometheus.internal"))
        async with PrometheusClient(named) as client:
            assert len(await client.query("up")) == 2
        async with PrometheusClient(PrometheusConfig(url=url, tls=TLSSettings(ca_cert=str(ca_file)))) as client:
            with pytest.raises(PrometheusUnavailableError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
                await client.query("up")
        async with PrometheusClient(PrometheusConfig(url=url, tls=TLSSettings(skip_verify=True))) as client:
            assert len(await client.query("up")) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "ftp://x"}, "expected http://host:port"),
        ({"url": "http://x:port"}, "invalid port"),
        ({"url": "http://x", "token": "t" * 8, "token_file": "/f"}, "either a Prometheus bearer token"),
        ({"url": "http://x", "tls": TLSSettings(client_cert="/c")}, "certificate and key must be set together"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PrometheusConfig(**kwargs)


def test_an_unreadable_token_file_is_a_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Prometheus token file .*cannot read it"):
        PrometheusClient(PrometheusConfig(url="http://x", token_file=str(tmp_path / "nope")))

