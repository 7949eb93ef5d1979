"""A tiny loopback HTTP server that records what the client sends.

For assertions the Nomad fake cannot answer (exact headers, bodies, query
strings).  Each request is answered by ``respond(request) -> Reply``; the
default replies like Nomad's ``/v1/agent/self`` for a given version (403 when
``version`` is None) and ``{}`` elsewhere.
"""

from __future__ import annotations

import json
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class Recorder:
    def __init__(self, version: str | None, respond: Callable[[Recorded], Reply] | None) -> None:
        self.version = version
        self.respond = respond
        self.requests: list[Recorded] = []
        # When set, every request (agent/self included) gets this status: an outage.
        self.respond_status: int | None = None
        self._lock = threading.Lock()

    def reply_for(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
        if self.respond_status is not None:
            return Reply(status=self.respond_status, body="injected outage")
        if request.path == "/v1/agent/self":
            if self.version is None:  # a token without agent:read
                return Reply(status=403, body="Permission denied")
            return Reply(body={"config": {"Version": {"Version": self.version}}})
        if self.respond is not None:
            return self.respond(request)
        return Reply()

    def of(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]


class _JoinedThreads(socketserver.ThreadingMixIn):
    """One thread per connection, all joined (bounded) when the server closes."""

    daemon_threads = True
    handler_threads: list[threading.Thread]

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        self.handler_threads.append(thread)
        thread.start()

    def join_handlers(self, timeout: float) -> list[threading.Thread]:
        """Join every handler thread; returns those still alive (a leak)."""
        for thread in self.handler_threads:
            thread.join(timeout)
        return [t for t in self.handler_threads if t.is_alive()]


class _ThreadingTCPServer(_JoinedThreads, socketserver.TCPServer):
    allow_reuse_address = True


class _ThreadingUnixServer(_JoinedThreads, socketserver.UnixStreamServer):
    pass


@contextmanager
def recording_server(
    *,
    version: str | None = "1.0.18",
    respond: Callable[[Recorded], Reply] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    unix_socket: str | None = None,
) -> Iterator[tuple[str, Recorder]]:
    """Serve on 127.0.0.1 (https with ``ssl_context``) or on ``unix_socket``; yields its address."""
    recorder = Recorder(version, respond)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle + delayed ACK
        # add ~40 ms to every keep-alive request.  (TCP only: not on unix sockets.)
        disable_nagle_algorithm = unix_socket is None

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Recorded(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k: v for k, v in self.headers.items()},
                body=json.loads(raw) if raw else None,
            )
            reply = recorder.reply_for(request)
            payload = (
                reply.body.encode()
                if isinstance(reply.body, str)
                else json.dumps(reply.body).encode()
            )
            self.send_response(reply.status)
            content_type = (
                "text/plain; charset=utf-8" if isinstance(reply.body, str) else "application/json"
            )
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server: _ThreadingTCPServer | _ThreadingUnixServer
    if unix_socket is not None:
        server = _ThreadingUnixServer(unix_socket, Handler)
        address = f"unix://{unix_socket}"
    else:
        tcp = _ThreadingTCPServer(("127.0.0.1", 0), Handler)
        if ssl_context is not None:
            tcp.socket = ssl_context.wrap_socket(tcp.socket, server_side=True)
        scheme = "https" if ssl_context is not None else "http"
        address = f"{scheme}://127.0.0.1:{tcp.server_address[1]}"
        server = tcp
    server.handler_threads = []
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="recording-server", daemon=True
    )
    thread.start()
    try:
        yield address, recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        leaked = server.join_handlers(timeout=5)
        assert not leaked, f"recording server handler threads still running: {leaked}"
