"""The daemon's observability HTTP endpoint: ``/metrics``, ``/healthz``, ``/readyz``.

Responsibility: serve one ``HOST:PORT`` (the daemon's ``--listen``) from a
stdlib HTTP server on its own thread.  Any other path goes to an optional
``WebApp`` (the status page): it answers a ``WebRequest`` with a
``WebResponse``, whose body may be a stream (Server-Sent Events) that the
server writes chunk by chunk; ``stop()`` closes the app first, so every
stream ends and its thread can be joined.  Rendering the metrics is
prometheus_client's job; deciding health and readiness is the daemon's (it
passes callbacks): this module only calls them, per request, and turns their
answer into 200 or 503 with the reason as the body.  It must never block the
asyncio loop, and ``stop()`` joins every thread it started.
"""

from __future__ import annotations

import gzip
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import TCPServer, ThreadingMixIn
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import parse_qs, urlsplit

from prometheus_client.exposition import choose_encoder

from reconciler.errors import ConfigError
from reconciler.observability.metrics import ReconcilerMetrics

log = logging.getLogger(__name__)

HealthCheck = Callable[[], tuple[bool, str]]
"""Returns (ok, reason); the reason is the response body either way."""

ENDPOINTS = ("/metrics", "/healthz", "/readyz")


@dataclass(frozen=True)
class WebRequest:
    """One GET or HEAD request, as a ``WebApp`` sees it."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # names lower-cased

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class WebResponse:
    """What a ``WebApp`` answers: a whole body, or a ``stream`` of chunks (no length)."""

    status: int
    content_type: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None


class WebApp(Protocol):
    """Pages served beside /metrics (``handle`` runs on a request thread)."""

    def handle(self, request: WebRequest) -> WebResponse | None:
        """The response, or None when the path is not the app's (a 404)."""

    def close(self) -> None:
        """End every open stream now: the server is about to join its threads."""


class Heartbeat:
    """A liveness check: alive while ``beat()`` was called within ``max_age_s``.

    The daemon's loop calls ``beat()`` on every tick; a wedged loop stops
    beating and ``/healthz`` turns 503.  Uses a monotonic clock, so wall-clock
    jumps do not make the process look dead.
    """

    def __init__(self, max_age_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._last = clock()  # a grace period for the loop's first tick

    def beat(self) -> None:
        self._last = self._clock()

    def check(self) -> tuple[bool, str]:
        age = self._clock() - self._last
        if age <= self.max_age_s:
            return True, f"loop alive, last tick {age:.1f}s ago"
        return False, f"loop wedged: last tick {age:.1f}s ago (limit {self.max_age_s:g}s)"


class _Server(ThreadingMixIn, HTTPServer):
    # Non-daemon request threads, joined by server_close(): nothing outlives stop().
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A browser that closes a page mid-response is not an error of the server.
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("client %s went away", client_address)
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can
        # stall start-up for seconds on hosts with slow resolvers; skip it.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class ObservabilityServer:
    """Serves ``/metrics`` from ``metrics`` and the two health checks on ``host:port``.

    ``port=0`` picks a free port; ``address`` tells which.  Use as a context
    manager or call ``start()``/``stop()``.
    """

    def __init__(
        self,
        metrics: ReconcilerMetrics,
        *,
        host: str = "127.0.0.1",
        port: int = 9464,
        liveness: HealthCheck,
        readiness: HealthCheck,
        request_timeout_s: float = 10.0,
        app: WebApp | None = None,
    ) -> None:
        self.metrics = metrics
        self.app = app
        self.host = host
        self.port = port
        self.liveness = liveness
        self.readiness = readiness
        self.request_timeout_s = request_timeout_s
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound; only valid while started."""
        if self._httpd is None:
            raise RuntimeError("ObservabilityServer is not started")
        bound = self._httpd.server_address
        return (str(bound[0]), int(bound[1]))

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server (IPv6 in brackets)."""
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("ObservabilityServer is already started")
        handler = _make_handler(self)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("_BoundServer", (_Server,), {"address_family": family})
        try:
            httpd = server_class((self.host, self.port), handler)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {self.host}:{self.port} for /metrics: {exc.strerror or exc}"
            ) from exc
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"observability-http-{self.address[1]}",
        )
        self._thread.start()
        log.info("serving /metrics, /healthz and /readyz on %s", self.url)

    def stop(self) -> None:
        """Stop serving; returns once the server and request threads have ended."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        if self.app is not None:
            self.app.close()  # open event streams end, so their threads can be joined
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _run_check(check: HealthCheck) -> tuple[bool, str]:
    # A failing check is an unhealthy answer, never a crashed request thread.
    try:
        ok, reason = check()
    except Exception as exc:
        return False, f"check failed: {type(exc).__name__}: {exc}"
    return bool(ok), str(reason)


def _make_handler(server: ObservabilityServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = server.request_timeout_s  # a silent client cannot hold a thread forever
        server_version = "nomad-reconciler"

        def do_GET(self) -> None:
            self._respond(head=False)

        def do_HEAD(self) -> None:
            self._respond(head=True)

        def _respond(self, *, head: bool) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                try:
                    body = encoder(server.metrics.registry)
                except Exception as exc:
                    # A broken collector must show up as a failed scrape, not a reset connection.
                    log.exception("rendering /metrics failed")
                    text = f"rendering metrics failed: {type(exc).__name__}: {exc}\n"
                    self._send(500, "text/plain; charset=utf-8", text.encode(), head=head)
                    return
                self._send(200, content_type, body, head=head, compressible=True)
            elif path in ("/healthz", "/readyz"):
                check = server.liveness if path == "/healthz" else server.readiness
                ok, reason = _run_check(check)
                text = f"{'ok' if ok else 'unavailable'}: {reason}\n"
                self._send(
                    200 if ok else 503, "text/plain; charset=utf-8", text.encode(), head=head
                )
            elif server.app is not None:
                request = WebRequest(
                    method="HEAD" if head else "GET", path=path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                )  # fmt: skip
                try:
                    response = server.app.handle(request)
                except Exception as exc:
                    log.exception("serving %s failed", path)
                    text = f"internal error: {type(exc).__name__}\n"
                    self._send(500, "text/plain; charset=utf-8", text.encode(), head=head)
                    return
                if response is None:
                    text = f"not found: {path}\n"
                    self._send(404, "text/plain; charset=utf-8", text.encode(), head=head)
                elif response.stream is not None and not head:
                    self._stream(response)
                else:
                    self._send(
                        response.status, response.content_type, response.body, head=head,
                        headers=response.headers,
                        compressible=response.content_type.startswith(("text/", "application/")),
                    )  # fmt: skip
            elif path == "/":
                links = "".join(f'<li><a href="{p}">{p}</a></li>' for p in ENDPOINTS)
                page = f"<html><body><h1>nomad-reconciler</h1><ul>{links}</ul></body></html>\n"
                self._send(200, "text/html; charset=utf-8", page.encode(), head=head)
            else:
                text = f"not found: {path}; try {', '.join(ENDPOINTS)}\n"
                self._send(404, "text/plain; charset=utf-8", text.encode(), head=head)

        def do_POST(self) -> None:
            self._read_only()

        do_PUT = do_DELETE = do_PATCH = do_POST

        def _read_only(self) -> None:
            # Nothing here changes anything: every write method is refused.
            text = "method not allowed: this endpoint is read-only\n"
            self._send(405, "text/plain; charset=utf-8", text.encode(), head=False,
                       headers={"Allow": "GET, HEAD"})

        def _stream(self, response: WebResponse) -> None:
            """Write a stream chunk by chunk until it ends or the client goes away."""
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Cache-Control", "no-store")
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            chunks = iter(response.stream or ())
            try:
                for chunk in chunks:
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except OSError:
                pass  # the browser closed the page
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()  # a generator's cleanup (unsubscribe) runs now
            self.close_connection = True

        def _send(
            self, status: int, content_type: str, body: bytes, *, head: bool,
            compressible: bool = False, headers: Mapping[str, str] | None = None,
        ) -> None:  # fmt: skip
            gzipped = compressible and "gzip" in self.headers.get("Accept-Encoding", "")
            if gzipped:
                body = gzip.compress(body)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            # Scrapes every few seconds would flood stderr; keep them at debug.
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
