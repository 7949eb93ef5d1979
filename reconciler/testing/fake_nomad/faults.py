"""Fault injection for reliability tests: latency, failing responses, dropped
connections, leader loss and a stalled event stream.

Responsible only for deciding, per request, which fault applies; the HTTP
layer acts on the decision.  Thread-safe: tests arm faults from their own
thread while the server's threads consume them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FailResponse:
    status: int
    body: str


@dataclass(frozen=True)
class Decision:
    latency_s: float = 0.0
    fail: FailResponse | None = None
    drop: bool = False


class Faults:
    """Armed faults; ``clear()`` disarms everything."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency: list[tuple[float, str | None]] = []
        self._failures: list[list[Any]] = []  # [remaining, status, prefix, body, method]
        self._drops = 0
        self._leader = True
        self._broker: Any = None

    def _attach(self, broker: Any) -> None:
        self._broker = broker

    def add_latency(self, seconds: float, path_prefix: str | None = None) -> None:
        with self._lock:
            self._latency.append((seconds, path_prefix))

    def fail_next(self, n: int = 1, status: int = 500, path_prefix: str | None = None, body: str | None = None,
                  method: str | None = None) -> None:
        """The next ``n`` matching requests (``method``: only that HTTP method, e.g. the
        ``PUT /v1/jobs`` of a registration but not the ``GET`` list) get ``status``."""
        text = body if body is not None else ("Too Many Requests" if status == 429 else "rpc error: injected fault")
        with self._lock:
            self._failures.append([n, status, path_prefix, text, method])

    def drop_connections(self, n: int = 1) -> None:
        """The next ``n`` requests have their connection closed without any response."""
        with self._lock:
            self._drops += n

    def lose_leader(self) -> None:
        """Every request fails with 500 ``No cluster leader`` until ``regain_leader``."""
        with self._lock:
            self._leader = False

    def regain_leader(self) -> None:
        with self._lock:
            self._leader = True

    @property
    def has_leader(self) -> bool:
        return self._leader

    def stall_event_stream(self) -> None:
        """Open event streams stop delivering anything, heartbeats included."""
        if self._broker is not None:
            self._broker.set_stalled(True)

    def clear(self) -> None:
        with self._lock:
            self._latency.clear()
            self._failures.clear()
            self._drops = 0
            self._leader = True
        if self._broker is not None:
            self._broker.set_stalled(False)

    def decide(self, path: str, method: str = "GET") -> Decision:
        with self._lock:
            latency = sum(s for s, p in self._latency if p is None or path.startswith(p))
            if self._drops > 0:
                self._drops -= 1
                return Decision(latency_s=latency, drop=True)
            if not self._leader:
                return Decision(latency_s=latency, fail=FailResponse(500, "No cluster leader"))
            for entry in self._failures:
                remaining, status, prefix, body, only = entry
                if remaining > 0 and (prefix is None or path.startswith(prefix)) and only in (None, method):
                    entry[0] -= 1
                    return Decision(latency_s=latency, fail=FailResponse(status, body))
            self._failures = [e for e in self._failures if e[0] > 0]
            return Decision(latency_s=latency)
