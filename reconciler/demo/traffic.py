"""The demo's stand-in for an application's metrics: per-allocation request counters.

Responsible for ``/metrics`` on loopback in Prometheus' text format, with
``http_requests_total{nomad_job, task_group, alloc_id, code}`` for every
running allocation of one job, as an application's own exporter would label
them.  A background thread follows the job's allocations in Nomad; each new
one serves a steady request rate, with an error ratio the walkthrough
chooses: ``faulty_version`` makes the canary of that job version answer a
quarter of its requests with a 500.  Counters are kept as their rate history,
so their value is known at any past time: the built-in query API
(``builtin_prometheus``) computes ``rate()`` from it exactly.

It must not write to Nomad: it only lists allocations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx

METRIC = "http_requests_total"
REQUESTS_PER_S = 20.0
GOOD_ERROR_RATIO = 0.002  # a healthy allocation: 2 in 1000 requests fail
FAULTY_ERROR_RATIO = 0.25  # the broken release's canary: 1 in 4
POLL_S = 0.5

Labels = tuple[tuple[str, str], ...]


@dataclass
class Counter:
    """A counter as its history of rates: ``(since, value then, rate from then on)``."""

    segments: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def created(self) -> float:
        return self.segments[0][0]

    def value_at(self, at: float) -> float | None:
        """The counter's value at Unix time ``at``; ``None`` before it existed."""
        current = None
        for since, value, rate in self.segments:
            if since > at:
                break
            current = value + rate * (at - since)
        return current

    def set_rate(self, per_second: float, now: float) -> None:
        value = self.value_at(now) if self.segments else 0.0
        self.segments.append((now, value or 0.0, per_second))


class TrafficExporter:
    """The series of one job's allocations; thread-safe (scraped while the walkthrough runs)."""

    def __init__(self, namespace: str, job_id: str) -> None:
        self.namespace = namespace
        self.job_id = job_id
        self.faulty_version: int | None = None  # set before the broken release is committed
        self._lock = threading.Lock()
        self._series: dict[Labels, Counter] = {}
        self._allocs: dict[str, bool] = {}  # alloc ID → still running

    def observe_allocations(self, stubs: list[Mapping[str, Any]], *, now: float) -> None:
        """Start counting for new running allocations; stop for those that ended."""
        with self._lock:
            running = {str(a.get("ID")): a for a in stubs if a.get("ClientStatus") == "running"}
            for alloc_id, stub in running.items():
                if alloc_id in self._allocs:
                    continue
                self._allocs[alloc_id] = True
                faulty = self.faulty_version is not None and stub.get("JobVersion") == self.faulty_version
                ratio = FAULTY_ERROR_RATIO if faulty else GOOD_ERROR_RATIO
                base = {"nomad_job": self.job_id, "task_group": str(stub.get("TaskGroup") or ""),
                        "alloc_id": alloc_id}  # fmt: skip
                for code, share in (("200", 1 - ratio), ("500", ratio)):
                    counter = self._series.setdefault(_labels({**base, "code": code}), Counter())
                    counter.set_rate(REQUESTS_PER_S * share, now)
            for alloc_id, alive in list(self._allocs.items()):
                if alive and alloc_id not in running:
                    self._allocs[alloc_id] = False  # its counters stay, no longer growing
                    for labels, counter in self._series.items():
                        if ("alloc_id", alloc_id) in labels:
                            counter.set_rate(0.0, now)

    def series(self) -> list[tuple[Labels, Counter]]:
        with self._lock:
            return [(labels, Counter(list(c.segments))) for labels, c in self._series.items()]

    def render(self, now: float) -> str:
        lines = [f"# TYPE {METRIC} counter"]
        for labels, counter in sorted(self.series()):
            inner = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"{METRIC}{{{inner}}} {counter.value_at(now) or 0.0!r}")
        return "\n".join(lines) + "\n"


def _labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


@contextmanager
def serving_traffic(
    exporter: TrafficExporter, nomad_address: str, token: str | None
) -> Iterator[str]:
    """Serve ``exporter`` on 127.0.0.1 and follow its job's allocations; yields "host:port"."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = exporter.render(time.time()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the demo's output is the narration

    stop = threading.Event()
    headers = {"X-Nomad-Token": token} if token else {}

    def follow() -> None:
        with httpx.Client(base_url=nomad_address, headers=headers, timeout=5.0) as http:
            while not stop.is_set():
                try:
                    response = http.get(f"/v1/job/{quote(exporter.job_id, safe='')}/allocations",
                                        params={"namespace": exporter.namespace})  # fmt: skip
                    if response.status_code == 200:
                        exporter.observe_allocations(response.json(), now=time.time())
                except httpx.HTTPError:
                    pass  # Nomad busy or gone: the next poll tries again
                stop.wait(POLL_S)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threads = [threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True),
               threading.Thread(target=follow, daemon=True)]  # fmt: skip
    for thread in threads:
        thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        for thread in threads:
            thread.join(timeout=5)
