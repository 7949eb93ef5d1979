"""The fake's HTTP plumbing: one ``Handler`` per connection, as Go's ``net/http`` and
Nomad's agent treat a request.

Responsible for path cleaning and redirects (Go's ``ServeMux``), fault
injection, the request log, writing answers and the NDJSON event stream.
What a request means is ``routes``'; the server's lifecycle is ``server``'s.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from reconciler.testing.fake_nomad.events import Subscription
from reconciler.testing.fake_nomad.goorder import go_ordered
from reconciler.testing.fake_nomad.request import TEXT, Reply
from reconciler.testing.fake_nomad.routes import Route

if TYPE_CHECKING:
    from reconciler.testing.fake_nomad.server import FakeNomad


def go_clean_path(path: str) -> str:
    """Go's ``net/http.cleanPath``: ``path.Clean`` of a rooted path, keeping a trailing '/'."""
    if not path.startswith("/"):
        path = "/" + path
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    cleaned = "/" + "/".join(out)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


class Handler(BaseHTTPRequestHandler):
    """One connection's requests: fault injection, the request log, writing answers."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeNomad"
    fake: FakeNomad
    log_status: Callable[[int], None]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- plumbing ---------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        logged = False

        def log(status: int) -> None:
            # Logged before the answer is written, so a client that got its answer sees it logged.
            nonlocal logged
            if not logged:
                logged = True
                fake._log(method, path, parts.query, status)

        self.log_status = log
        try:
            decision = fake.faults.decide(path, method)
            if decision.latency_s:
                fake._stopping.wait(decision.latency_s)
            if decision.drop:
                log(-1)
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if decision.fail is not None:
                raise Reply(decision.fail.status, decision.fail.body, text=True)
            self._redirect_unclean(path, parts.path, parts.query)
            Route(fake, self, method, path, query, raw).run()
        except Reply as reply:
            log(200 if reply.status == 0 else reply.status)  # 0: an event stream that has ended
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            log(-1)
        except Exception as exc:  # a fake defect must surface as an answer, not a hung client
            log(500)
            self._send(Reply(500, f"fake nomad internal error: {exc!r}", text=True))
        finally:
            log(-1)

    def _redirect_unclean(self, path: str, raw_path: str, query: str) -> None:
        """Go's ``http.ServeMux``: a path with empty, '.' or '..' segments is redirected (301).

        Up to Go 1.21 (Nomad < 1.8, ``.go-version``) the mux cleans the *decoded*
        path, so ``/v1/job/zz%2F..%2Fsvc-02`` is sent to ``/v1/job/svc-02``;
        from Go 1.22 on it cleans the escaped path and an escaped '/' stays put.
        """
        decoded_mux = not self.fake.version_at_least(1, 8, 0)
        seen = path if decoded_mux else raw_path
        cleaned = go_clean_path(seen)
        if cleaned == seen:
            return
        location = quote(cleaned, safe="/") if decoded_mux else cleaned
        if query:
            location += "?" + query
        if self.command in ("GET", "HEAD"):  # Go's http.Redirect writes a body only for these
            html = f'<a href="{location}">Moved Permanently</a>.\n\n'
            headers = (("Content-Type", "text/html; charset=utf-8"), ("Location", location))
            raise Reply(301, html, text=True, headers=headers)
        raise Reply(301, None, text=True, headers=(("Location", location),))

    def _send(self, reply: Reply) -> None:
        if reply.status == 0:
            return  # streamed already
        headers: list[tuple[str, str]] = list(reply.headers)
        if reply.index is not None:
            headers.append(("X-Nomad-Index", str(reply.index)))
        if reply.query:
            headers += [("X-Nomad-KnownLeader", "true"), ("X-Nomad-LastContact", "0")]
        if reply.text:
            body = b"" if reply.body is None else str(reply.body).encode()
            if reply.body is not None and not any(h[0] == "Content-Type" for h in headers):
                headers.append(("Content-Type", TEXT))
        else:
            body = json.dumps(reply.body, sort_keys=True).encode()
            headers.append(("Content-Type", "application/json"))
        if reply.text and reply.body == "" and reply.status == 200:
            headers = [h for h in headers if h[0] != "Content-Type"]
        self.send_response(reply.status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


    def stream_events(self, sub: Subscription) -> None:
        """Write NDJSON frames (``{}`` heartbeats) until the client leaves or the fake stops."""
        fake = self.fake
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.log_status(200)  # a stream counts when it starts
        self.close_connection = True

        def write(line: bytes) -> None:
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()

        fake._track_long_request()
        fake.broker.subscribe(sub)
        try:
            # Nomad writes a heartbeat at once, then one per tick of a fixed ticker that
            # events never restart (nomad/stream/ndjson.go, 30 s in nomad/event_endpoint.go, v1.0.18).
            write(b"{}\n")
            next_beat = time.monotonic() + fake.heartbeat_s
            while not fake._stopping.is_set():
                wait = max(0.0, min(0.25, next_beat - time.monotonic()))
                frames = fake.broker.next_frames(sub, timeout=wait)
                for frame in frames:
                    # Go writes struct fields in declaration order: so does the fake on the stream.
                    events = [{**event, "Payload": go_ordered(event["Payload"])} for event in frame.events]
                    payload = {"Index": frame.index, "Events": events}
                    write(json.dumps(payload, separators=(",", ":")).encode() + b"\n")
                now = time.monotonic()
                if now >= next_beat:
                    if not fake.broker.stalled:
                        write(b"{}\n")
                    # A fixed tick: a late beat does not shift the ones after it.
                    next_beat += fake.heartbeat_s * max(1, int((now - next_beat) // fake.heartbeat_s) + 1)
            with contextlib.suppress(OSError):
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            fake.broker.close(sub)

class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[Any, Any]:
        request, _ = super().get_request()
        return request, ("127.0.0.1", 0)  # BaseHTTPRequestHandler expects an (host, port) address
