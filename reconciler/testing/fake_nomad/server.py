"""The fake's HTTP face: ``FakeNomad``, a real HTTP server on loopback (or a
unix socket, optionally TLS) speaking Nomad 1.0.18's API.

Responsible for the server's lifecycle, the request log and the helpers
tests call directly.  The request plumbing (fault injection, writing
answers, the NDJSON event stream) is in ``http_handler``, endpoints in
``routes``; state changes in ``State``; a background thread advances
simulated time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socketserver
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from http.server import ThreadingHTTPServer
from typing import Any

from reconciler.testing.fake_nomad.acl import Policy, parse_rules
from reconciler.testing.fake_nomad.events import EventBroker
from reconciler.testing.fake_nomad.faults import Faults
from reconciler.testing.fake_nomad.http_handler import Handler, UnixHTTPServer
from reconciler.testing.fake_nomad.scheduler import rfc3339
from reconciler.testing.fake_nomad.state import (
    AVAILABLE_DRIVERS,
    HEALTH_MODES,
    HealthModel,
    State,
)
from reconciler.testing.fake_nomad.versions import Extras, parse_version


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
        handler = type("Handler", (Handler,), {"fake": self, "disable_nagle_algorithm": not self._unix})
        if self._unix:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._unix)
            server: socketserver.BaseServer = UnixHTTPServer(self._unix, handler)
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
