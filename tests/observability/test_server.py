"""ObservabilityServer over real loopback HTTP: /metrics, /healthz, /readyz."""

from __future__ import annotations

import gzip
import http.client
import socket
import threading
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from reconciler.errors import ConfigError
from reconciler.observability import (
    Heartbeat,
    ObservabilityServer,
    ReconcilerMetrics,
)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def ok() -> tuple[bool, str]:
    return True, "fine"


def test_metrics_endpoint_serves_prometheus_text(served: ObservabilityServer) -> None:
    status, headers, body = get(served.url + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert "nomad_reconciler_job_sync_state" in names
    assert "nomad_reconciler_build_info" in names


def test_metrics_openmetrics_and_gzip_on_request(served: ObservabilityServer) -> None:
    status, headers, body = get(
        served.url + "/metrics",
        {"Accept": "application/openmetrics-text; version=1.0.0", "Accept-Encoding": "gzip"},
    )
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert headers["Content-Encoding"] == "gzip"
    text = gzip.decompress(body).decode()
    assert text.rstrip().endswith("# EOF")


def test_metrics_reflect_updates_between_scrapes(served: ObservabilityServer) -> None:
    served.metrics.set_job_state(("ns", "fresh"), "missing")
    _, _, body = get(served.url + "/metrics")
    line = 'nomad_reconciler_job_sync_state{nomad_job="fresh",nomad_namespace="ns",state="missing"} 1.0'
    assert line in body.decode().splitlines()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_checks_answer_200_or_503_with_reason(path: str) -> None:
    answer: list[tuple[bool, str]] = [(False, "first full pass not done yet")]
    m = ReconcilerMetrics(CollectorRegistry())

    def answering() -> tuple[bool, str]:
        return answer[0]

    liveness, readiness = (answering, ok) if path == "/healthz" else (ok, answering)
    server = ObservabilityServer(
        m, host="127.0.0.1", port=0, liveness=liveness, readiness=readiness
    )
    with server:
        status, headers, body = get(server.url + path)
        assert status == 503
        assert headers["Content-Type"].startswith("text/plain")
        assert body.decode() == "unavailable: first full pass not done yet\n"
        answer[0] = (True, "first pass done, Nomad reachable")
        status, _, body = get(server.url + path)
        assert status == 200
        assert body.decode() == "ok: first pass done, Nomad reachable\n"


def test_a_raising_check_is_a_503_not_a_crash() -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("loop state unreadable")

    m = ReconcilerMetrics(CollectorRegistry())
    with ObservabilityServer(m, host="127.0.0.1", port=0, liveness=ok, readiness=broken) as server:
        status, _, body = get(server.url + "/readyz")
        assert status == 503
        assert b"RuntimeError: loop state unreadable" in body
        assert get(server.url + "/healthz")[0] == 200


def test_unknown_path_is_404_and_head_has_no_body(served: ObservabilityServer) -> None:
    status, _, body = get(served.url + "/nope")
    assert status == 404 and b"/metrics" in body
    host, port = served.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("HEAD", "/metrics")
        response = conn.getresponse()
        assert response.status == 200
        assert int(response.headers["Content-Length"]) > 0
        assert response.read() == b""
    finally:
        conn.close()


def test_heartbeat_liveness_through_the_endpoint() -> None:
    now = [0.0]
    beat = Heartbeat(30, clock=lambda: now[0])
    m = ReconcilerMetrics(CollectorRegistry())
    with ObservabilityServer(
        m, host="127.0.0.1", port=0, liveness=beat.check, readiness=ok
    ) as server:
        assert get(server.url + "/healthz")[0] == 200
        now[0] = 31.0
        status, _, body = get(server.url + "/healthz")
        assert status == 503 and b"loop wedged: last tick 31.0s ago (limit 30s)" in body
        beat.beat()
        assert get(server.url + "/healthz")[0] == 200


def test_stop_joins_threads_and_frees_the_port() -> None:
    before = set(threading.enumerate())
    m = ReconcilerMetrics(CollectorRegistry())
    server = ObservabilityServer(m, host="127.0.0.1", port=0, liveness=ok, readiness=ok)
    server.start()
    host, port = server.address
    for _ in range(5):
        assert get(server.url + "/metrics")[0] == 200
    server.stop()
    assert set(threading.enumerate()) <= before
    with pytest.raises(RuntimeError):
        _ = server.address
    with socket.socket() as probe:  # no listener left: the port can be bound again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        probe.bind((host, port))
        probe.listen()
    server.stop()  # idempotent


def test_start_twice_is_refused_and_busy_port_is_a_config_error() -> None:
    m = ReconcilerMetrics(CollectorRegistry())
    with ObservabilityServer(m, host="127.0.0.1", port=0, liveness=ok, readiness=ok) as first:
        with pytest.raises(RuntimeError):
            first.start()
        busy = ObservabilityServer(
            m, host="127.0.0.1", port=first.address[1], liveness=ok, readiness=ok
        )
        with pytest.raises(ConfigError, match=f"127.0.0.1:{first.address[1]}"):
            busy.start()


def test_ipv6_loopback_when_available() -> None:
    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6 support")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this host")
    m = ReconcilerMetrics(CollectorRegistry())
    with ObservabilityServer(m, host="::1", port=0, liveness=ok, readiness=ok) as server:
        assert server.url.startswith("http://[::1]:")
        assert get(server.url + "/healthz")[0] == 200


def test_a_failing_collector_is_a_500_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def collect(self) -> list[object]:
            raise RuntimeError("collector exploded")

        def describe(self) -> list[object]:
            return []

    m = ReconcilerMetrics(CollectorRegistry())
    m.registry.register(Broken())  # type: ignore[arg-type]
    with ObservabilityServer(m, host="127.0.0.1", port=0, liveness=ok, readiness=ok) as server:
        status, _, body = get(server.url + "/metrics")
        assert status == 500
        assert body.decode() == "rendering metrics failed: RuntimeError: collector exploded\n"
        assert get(server.url + "/healthz")[0] == 200  # the server keeps serving
    assert "rendering /metrics failed" in caplog.text
