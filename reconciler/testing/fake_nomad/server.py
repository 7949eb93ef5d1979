"""The fake's HTTP face: ``FakeNomad``, a real HTTP server on loopback (or a
unix socket, optionally TLS) speaking Nomad 1.0.18's API.

Responsible for the server's lifecycle, the request plumbing (fault
injection, the request log, writing answers), the NDJSON event stream and
the helpers tests call directly.  Endpoints are in ``routes``; state
changes in ``State``; a background thread advances simulated time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import socketserver
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from reconciler.testing.fake_nomad.acl import Policy, parse_rules
from reconciler.testing.fake_nomad.events import EventBroker, Subscription
from reconciler.testing.fake_nomad.faults import Faults
from reconciler.testing.fake_nomad.goorder import go_ordered
from reconciler.testing.fake_nomad.request import TEXT, Reply
from reconciler.testing.fake_nomad.routes import Route
from reconciler.testing.fake_nomad.scheduler import rfc3339
from reconciler.testing.fake_nomad.state import (
    AVAILABLE_DRIVERS,
    HEALTH_MODES,
    HealthModel,
    State,
    is_parent,
)
from reconciler.testing.fake_nomad.versions import Extras, parse_version


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


class _Handler(BaseHTTPRequestHandler):
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


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[Any, Any]:
        request, _ = super().get_request()
        return request, ("127.0.0.1", 0)  # BaseHTTPRequestHandler expects an (host, port) address


class FakeNomad:
    """A fake Nomad 1.0.18 agent (server + one client node) for tests and demos.

    Use as a context manager or call ``start()``/``stop()``.  ``address`` is
    ``http://127.0.0.1:PORT`` (``https`` with an ``ssl_context``, ``unix://PATH``
    with ``unix_socket``).  ``clock`` drives deployment timing; the fake
    advances its simulation on a background thread every ``tick_s`` seconds
    (``tick()`` advances it immediately).

    ``version`` is the Nomad release the fake imitates: stored jobs read back with that
    release's defaults and fields (``versions``), and its API differences (list stubs,
    ``?meta=true``, job submissions, ...) follow it.  ``extra_readback`` (job level),
    ``extra_group_readback`` and ``extra_task_readback`` are fields the fake stores on
    every job, group or task that does not set them: a Nomad that fills defaults no
    model knows.  Its plan fills them too, so resubmitting a job still plans as no change.
    ``admission_nonce`` names jobs (``(namespace, id)``) whose every submission the
    fake alters (a new ``Meta`` value, as a mutating admission step would): such a
    job never converges, and its plan always reports a change.

    ``heartbeat_s`` is the event stream's heartbeat period: Nomad's fixed 30 s tick
    (tests that want to see heartbeats shorten it).

    ``drivers`` are the task drivers its one client node has: by default those
    healthy on the recording agent (``raw_exec``, ``exec``, ``mock_driver``), so
    a ``docker`` job stays queued there as it did on the real one.  A task whose
    command is ``false`` never gets healthy, as on a real client.
    """

    def __init__(
        self,
        *,
        version: str = "1.0.18",
        acl: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        unix_socket: str | None = None,
        region: str = "global",
        datacenters: tuple[str, ...] | list[str] = ("dc1",),
        health: HealthModel | None = None,
        clock: Callable[[], float] = time.monotonic,
        heartbeat_s: float = 30.0,
        tick_s: float = 0.02,
        blocking_jitter: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        drivers: Iterable[str] = AVAILABLE_DRIVERS,
        extra_readback: Mapping[str, Any] | None = None,
        extra_group_readback: Mapping[str, Any] | None = None,
        extra_task_readback: Mapping[str, Any] | None = None,
        admission_nonce: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.version = version
        self.acl_enabled = acl
        self.region = region
        self.datacenters = tuple(datacenters)
        self.heartbeat_s = heartbeat_s
        self.blocking_jitter = blocking_jitter
        self.host = host
        self._port = port
        self._ssl = ssl_context
        self._unix = unix_socket
        self._tick_s = tick_s
        self.broker = EventBroker()
        self.faults = Faults()
        self.faults._attach(self.broker)
        self.state = State(region=region, datacenters=self.datacenters, acl=acl, health=health or HealthModel(),
                           clock=clock, broker=self.broker, drivers=frozenset(drivers))
        self.state.nomad_version = parse_version(version)
        self.state.readback_extras = Extras(
            job=dict(extra_readback or {}), group=dict(extra_group_readback or {}), task=dict(extra_task_readback or {})
        )
        self.state.admission_nonce = set(admission_nonce)
        self.state.purge_job_event = self.version_at_least(1, 7, 5)
        self.state.purge_deleted_flag = self.version_at_least(1, 11, 3)
        self._log_lock = threading.Lock()
        self._request_log: list[tuple[str, str, str, int]] = []
        self._long_requests: set[threading.Thread] = set()
        self._stopping = threading.Event()
        self._server: socketserver.BaseServer | None = None
        self._threads: list[threading.Thread] = []
        self.address = ""

    # --- lifecycle --------------------------------------------------------------------
    def start(self) -> FakeNomad:
        # TCP_NODELAY (not on unix sockets): headers and body are separate writes, and
        # Nagle + delayed ACK would add ~40 ms to every keep-alive request (as Go, Nomad sets it).
        handler = type("Handler", (_Handler,), {"fake": self, "disable_nagle_algorithm": not self._unix})
        if self._unix:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._unix)
            server: socketserver.BaseServer = _UnixHTTPServer(self._unix, handler)
            self.address = f"unix://{self._unix}"
        else:
            http_server = ThreadingHTTPServer((self.host, self._port), handler)
            http_server.daemon_threads = True
            if self._ssl is not None:
                http_server.socket = self._ssl.wrap_socket(http_server.socket, server_side=True)
            port = http_server.server_address[1]
            self.address = f"{'https' if self._ssl else 'http'}://{self.host}:{port}"
            server = http_server
        self._server = server
        serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-nomad-http", daemon=True)
        ticker = threading.Thread(target=self._run_ticks, name="fake-nomad-scheduler", daemon=True)
        self._threads = [serve, ticker]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self.state.wakeup.set()
        self.broker.set_stalled(False)
        with self.state.cond:
            self.state.cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        with self._log_lock:
            long_requests = list(self._long_requests)
        for thread in [*self._threads, *long_requests]:
            thread.join(timeout=5)  # streams and blocking queries notice _stopping within 0.5 s
        self._server = None
        if self._unix:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._unix)

    def __enter__(self) -> FakeNomad:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track_long_request(self) -> None:
        """Remember a handler thread that may outlive a request/response cycle
        (blocking query, event stream) so ``stop()`` can wait for it."""
        with self._log_lock:
            self._long_requests.add(threading.current_thread())

    def _run_ticks(self) -> None:
        wakeup = self.state.wakeup
        while not self._stopping.is_set():
            if wakeup.wait(self._tick_s):
                wakeup.clear()
                # Nomad's eval broker hands work to a scheduler a moment after the write:
                # readers woken by the write see the job before its placements.
                self._stopping.wait(self.state.health.schedule_delay_s)
            if not self._stopping.is_set():
                self.state.tick(all_pending=False)

    def tick(self) -> None:
        """Advance the simulation to the clock's current time now (for driven clocks)."""
        self.state.tick()

    def version_at_least(self, *wanted: int) -> bool:
        """Is the configured Nomad version at least ``wanted`` (features gated by version)?"""
        parts = tuple(int(p) for p in re.findall(r"\d+", self.version)[:3])
        return parts >= wanted

    # --- request log ------------------------------------------------------------------
    def _log(self, method: str, path: str, query: str, status: int) -> None:
        with self._log_lock:
            self._request_log.append((method, path, query, status))

    @property
    def request_log(self) -> list[tuple[str, str, str, int]]:
        """(method, path, raw query, status) of every request so far; status -1 = dropped."""
        with self._log_lock:
            return list(self._request_log)

    def clear_request_log(self) -> None:
        with self._log_lock:
            self._request_log.clear()

    # --- helpers for tests ------------------------------------------------------------
    def bootstrap_acl(self) -> str:
        """Bootstrap ACLs; returns the management token's SecretID."""
        with self.state.lock:
            index = self.state.bump("acl_token")
            self.state.acl.bootstrap_index = index
            token = self.state.acl.new_token(name="Bootstrap Token", type_="management", policies=None,
                                             index=index, now=rfc3339(time.time_ns()), global_=True)
            return token.secret_id

    def create_token(self, policies: dict[str, list[str]], *, name: str = "test-token") -> str:
        """A client token with ``{namespace: [capabilities]}``; returns its SecretID."""
        with self.state.lock:
            index = self.state.bump("acl_policy", "acl_token")
            policy_name = f"policy-{uuid.uuid4().hex[:8]}"
            rules = "\n".join(
                f'namespace "{ns}" {{\n  capabilities = [{", ".join(json.dumps(c) for c in caps)}]\n}}'
                for ns, caps in policies.items()
            )
            self.state.acl.policies[policy_name] = Policy(policy_name, "", rules, parse_rules(rules), index)
            token = self.state.acl.new_token(name=name, type_="client", policies=[policy_name], index=index,
                                             now=rfc3339(time.time_ns()))
            return token.secret_id

    def set_health(
        self, job_id: str, *, namespace: str = "default", mode: str = "healthy", after_s: float | None = None,
        version: int | None = None,
    ) -> None:
        """How new allocations of a job behave: healthy after ``after_s`` (default: the
        group's min_healthy_time), ``unhealthy`` (the task fails at start), ``never``
        healthy, or ``complete`` (batch work that finishes successfully ``after_s`` after
        starting).  With ``version`` it applies to that job version only (e.g. the one
        whose task would crash), taking precedence over a job-wide setting."""
        if mode not in HEALTH_MODES:
            raise ValueError(f"mode must be one of {HEALTH_MODES}, not {mode!r}")
        with self.state.lock:
            self.state.health_overrides[(namespace, job_id, version)] = (mode, after_s)

    def run_job_out_of_band(self, job: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        """Register ``job`` (API JSON) directly, as someone running ``nomad job run`` would."""
        ns = namespace or job.get("Namespace") or "default"
        return self.state.register(job, namespace=ns, enforce_index=False, job_modify_index=0,
                                   preserve_counts=False, token_accessor="")

    def scale(self, job_id: str, group: str, count: int, *, namespace: str = "default", message: str = "") -> dict[str, Any]:
        """Scale a group behind the reconciler's back (``nomad job scale``)."""
        return self.state.scale(namespace, job_id, group=group, count=count, message=message, meta=None, error=False)

    def read_job(self, job_id: str, *, namespace: str = "default") -> dict[str, Any] | None:
        with self.state.lock:
            rec = self.state.get_record(namespace, job_id)
            return json.loads(json.dumps(rec.row)) if rec else None

    def latest_deployment(self, job_id: str, *, namespace: str = "default") -> dict[str, Any] | None:
        with self.state.lock:
            dep = self.state.latest_deployment(namespace, job_id)
            return dep.to_json(list(self.state.allocs.values())) if dep else None

    def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 10.0) -> bool:
        """Wait (bounded) until ``predicate()`` holds, re-checking on every state change."""
        deadline = time.monotonic() + timeout
        with self.state.cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.state.cond.wait(min(remaining, 0.05))
            return True

    # --- rendering shared by handlers ---------------------------------------------------
    def _by_job(self) -> tuple[dict[tuple[str, str], list[Any]], dict[tuple[str, str], list[dict[str, Any]]]]:
        """Allocations and blocked evaluations grouped by job, computed once per listing."""
        allocs: dict[tuple[str, str], list[Any]] = {}
        for alloc in self.state.allocs.values():
            allocs.setdefault((alloc.namespace, alloc.job_id), []).append(alloc)
        blocked: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for evaluation in self.state.evals.values():
            if evaluation["Status"] == "blocked":
                blocked.setdefault((evaluation["Namespace"], evaluation["JobID"]), []).append(evaluation)
        return allocs, blocked

    def _summary(self, rec: Any, views: Any = None) -> dict[str, Any]:
        job = rec.row
        allocs_by_job, blocked_by_job = views or self._by_job()
        key = (job["Namespace"], job["ID"])
        allocs = allocs_by_job.get(key, [])
        queued: dict[str, int] = {}
        for evaluation in blocked_by_job.get(key, []):
            for name, n in (evaluation.get("QueuedAllocations") or {}).items():
                queued[name] = queued.get(name, 0) + n
        summary: dict[str, dict[str, int]] = {}
        for group in job.get("TaskGroups") or []:
            mine = [a.client_status for a in allocs if a.group == group["Name"]]
            summary[group["Name"]] = {
                "Complete": mine.count("complete"), "Failed": mine.count("failed"), "Lost": 0,
                "Queued": queued.get(group["Name"], 0), "Running": mine.count("running"),
                "Starting": mine.count("pending"),
            }
        children = {"Dead": 0, "Pending": 0, "Running": 0}
        if is_parent(job):
            # A parent's summary counts its child jobs by status (nomad/state/state_store.go).
            for (ns, _), child in self.state.jobs.items():
                if ns == job["Namespace"] and child.row.get("ParentID") == job["ID"]:
                    children[str(child.row["Status"]).capitalize()] = children.get(str(child.row["Status"]).capitalize(), 0) + 1
        return {"Children": children, "CreateIndex": job["CreateIndex"],
                "JobID": job["ID"], "ModifyIndex": rec.summary_index,
                "Namespace": job["Namespace"], "Summary": summary}

    def _stub(self, rec: Any, *, meta: bool, with_namespace: bool, views: Any = None) -> dict[str, Any]:
        job = rec.row
        stub = {
            "CreateIndex": job["CreateIndex"], "Datacenters": job["Datacenters"], "ID": job["ID"],
            "JobModifyIndex": job["JobModifyIndex"], "JobSummary": self._summary(rec, views),
            "ModifyIndex": job["ModifyIndex"], "Multiregion": job.get("Multiregion"), "Name": job["Name"],
            "ParameterizedJob": job.get("ParameterizedJob") is not None and not job.get("Dispatched"),
            "ParentID": job.get("ParentID", ""), "Periodic": job.get("Periodic") is not None,
            "Priority": job["Priority"], "Status": job["Status"], "StatusDescription": job["StatusDescription"],
            "Stop": job["Stop"], "SubmitTime": job["SubmitTime"], "Type": job["Type"],
        }
        # 1.0.18 names the namespace only in cross-namespace listings (recorded); Job.Stub
        # sets it for every listing from 1.1.0 (nomad/structs/structs.go).
        if with_namespace or self.version_at_least(1, 1, 0):
            stub["Namespace"] = job["Namespace"]
        if self.version_at_least(1, 6, 0):
            stub["NodePool"] = job.get("NodePool")
        if meta and self.version_at_least(1, 4, 3):
            stub["Meta"] = job.get("Meta")
        return stub

    def _stream(self, handler: _Handler, sub: Subscription) -> None:
        """Write NDJSON frames (``{}`` heartbeats) until the client leaves or the fake stops."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        handler.log_status(200)  # a stream counts when it starts
        handler.close_connection = True

        def write(line: bytes) -> None:
            handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            handler.wfile.flush()

        self._track_long_request()
        self.broker.subscribe(sub)
        try:
            # Nomad writes a heartbeat at once, then one per tick of a fixed ticker that
            # events never restart (nomad/stream/ndjson.go, 30 s in nomad/event_endpoint.go, v1.0.18).
            write(b"{}\n")
            next_beat = time.monotonic() + self.heartbeat_s
            while not self._stopping.is_set():
                wait = max(0.0, min(0.25, next_beat - time.monotonic()))
                frames = self.broker.next_frames(sub, timeout=wait)
                for frame in frames:
                    # Go writes struct fields in declaration order: so does the fake on the stream.
                    events = [{**event, "Payload": go_ordered(event["Payload"])} for event in frame.events]
                    payload = {"Index": frame.index, "Events": events}
                    write(json.dumps(payload, separators=(",", ":")).encode() + b"\n")
                now = time.monotonic()
                if now >= next_beat:
                    if not self.broker.stalled:
                        write(b"{}\n")
                    # A fixed tick: a late beat does not shift the ones after it.
                    next_beat += self.heartbeat_s * max(1, int((now - next_beat) // self.heartbeat_s) + 1)
            with contextlib.suppress(OSError):
                handler.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            self.broker.close(sub)
