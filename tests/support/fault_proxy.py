"""A loopback HTTP proxy in front of a Nomad that injects faults, for reliability tests.

Per request, a seeded ``random.Random`` picks at most one fault: a 500 or 502
answered by the proxy (the request never reaches Nomad), a connection dropped
before forwarding, a connection dropped *after* Nomad answered (a write that
was applied but whose answer was lost), or a delay.  Event streams are relayed
as they come and cut after a random time.  ``enabled`` switches injection off
(the proxy then only relays) so a test can let the system converge.

Every registration Nomad accepted through the proxy is recorded with the
digest of the job it carried, so a test can tell whether one spec was
registered twice.

``hold(match)`` makes matching requests wait, before any fault, until the
test releases them: a step of the client made to happen late, on purpose.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te",
              "trailer", "upgrade", "proxy-connection"}  # fmt: skip


@dataclass
class FaultRates:
    """Probability of each fault per request (at most one applies)."""

    error_500: float = 0.1
    error_502: float = 0.1
    drop_before: float = 0.08
    drop_after_write: float = 0.2  # writes only: Nomad applied it, the answer is lost
    delay: float = 0.15
    delay_s: tuple[float, float] = (0.1, 0.6)
    stream_cut_s: tuple[float, float] = (0.5, 2.0)


@dataclass
class Registration:
    job_id: str
    digest: str
    status: int


@dataclass
class FaultStats:
    injected: dict[str, int] = field(default_factory=dict)
    registrations: list[Registration] = field(default_factory=list)

    def count(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1


class FaultProxy:
    """``with FaultProxy(upstream, seed=1) as proxy:`` → point the client at ``proxy.address``."""

    def __init__(self, upstream: str, *, seed: int, rates: FaultRates | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", int(parts.port or 4646))
        self.rates = rates or FaultRates()
        self.enabled = True
        self.stats = FaultStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._holds: list[tuple[Callable[[str, str, str], bool], threading.Event]] = []
        self.address = ""

    def hold(self, match: Callable[[str, str, str], bool]) -> threading.Event:
        """Requests for which ``match(method, path, query)`` holds wait until the returned
        event is set (or the proxy stops); then they go on as any other."""
        gate = threading.Event()
        with self._lock:
            self._holds.append((match, gate))
        return gate

    def wait_held(self, method: str, path: str, query: str) -> None:
        with self._lock:
            gates = [gate for match, gate in self._holds if match(method, path, query)]
        for gate in gates:
            while not gate.wait(0.05) and not self._stopping.is_set():
                pass

    def __enter__(self) -> FaultProxy:
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.address = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="fault-proxy", daemon=True,
        )  # fmt: skip
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def decide(self, method: str, path: str) -> tuple[str | None, float]:
        """(fault, seconds): one draw per request, under a lock (the sequence is seeded)."""
        with self._lock:
            roll, delay = self._rng.random(), self._rng.uniform(*self.rates.delay_s)
            cut = self._rng.uniform(*self.rates.stream_cut_s)
        if not self.enabled:
            return None, 0.0
        if path == "/v1/event/stream":
            return "cut_stream", cut
        r = self.rates
        write = method in ("PUT", "POST", "DELETE")
        for kind, rate in (("error_500", r.error_500), ("error_502", r.error_502),
                           ("drop_before", r.drop_before),
                           ("drop_after_write", r.drop_after_write if write else 0.0),
                           ("delay", r.delay)):  # fmt: skip
            if roll < rate:
                return kind, delay
            roll -= rate
        return None, 0.0

    def record(self, method: str, path: str, body: bytes, status: int) -> None:
        if method in ("PUT", "POST") and path == "/v1/jobs" and body:
            job = json.loads(body).get("Job") or {}
            digest = hashlib.sha256(json.dumps(job, sort_keys=True).encode()).hexdigest()
            with self._lock:
                self.stats.registrations.append(Registration(str(job.get("ID")), digest, status))

    def count(self, kind: str) -> None:
        with self._lock:
            self.stats.count(kind)


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._relay("GET")

    def do_PUT(self) -> None:
        self._relay("PUT")

    def do_POST(self) -> None:
        self._relay("POST")

    def do_DELETE(self) -> None:
        self._relay("DELETE")

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _answer(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _relay(self, method: str) -> None:
        proxy = self.proxy
        parts = urlsplit(self.path)
        path = parts.path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        proxy.wait_held(method, path, parts.query)
        fault, seconds = proxy.decide(method, path)
        if fault is not None:
            proxy.count(fault)
        if fault == "error_500":
            self._answer(500, "rpc error: injected by the fault proxy")
            return
        if fault == "error_502":
            self._answer(502, "Bad Gateway")
            return
        if fault == "drop_before":
            self._drop()
            return
        if fault == "delay":
            proxy._stopping.wait(seconds)
        upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(method, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            if path == "/v1/event/stream":
                cut = seconds if fault == "cut_stream" else float("inf")
                self._stream(response, deadline=time.monotonic() + cut)
                return
            data = response.read()
            proxy.record(method, path, body, response.status)
            if fault == "drop_after_write":
                self._drop()
                return
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self._drop()
        finally:
            upstream.close()

    def _stream(self, response: http.client.HTTPResponse, *, deadline: float) -> None:
        """Relay a streamed answer chunk by chunk, then cut it without a last chunk."""
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while time.monotonic() < deadline and not self.proxy._stopping.is_set():
                chunk = response.read1(65536)  # the fake heartbeats often: this returns
                if not chunk:
                    break
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
        except OSError:
            pass
        self._drop()
