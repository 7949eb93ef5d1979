"""A loopback metrics exporter whose series the test drives.

``MetricsExporter`` serves ``/metrics`` in Prometheus' text format from a
table the test sets: gauges (``set_gauge``) and counters that grow at a rate
the test chooses (``set_rate``; the value is integrated over real time, so
Prometheus' ``rate()`` over it returns that rate).  ``remove`` drops a series,
so a query can be made to return nothing.  Thread-safe: Prometheus scrapes it
from its own connection while the test changes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from tests.support.network import QuietHandler, serving

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsExporter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gauges: dict[tuple[str, Labels], float] = {}
        # counter → (value at the last change, rate per second since, time of the last change)
        self._counters: dict[tuple[str, Labels], tuple[float, float, float]] = {}
        self.scrapes = 0

    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._gauges[(name, _labels(labels))] = value

    def set_rate(self, name: str, per_second: float, **labels: str) -> None:
        now = time.monotonic()
        key = (name, _labels(labels))
        with self._lock:
            value, rate, since = self._counters.get(key, (0.0, 0.0, now))
            self._counters[key] = (value + rate * (now - since), per_second, now)

    def remove(self, name: str, **labels: str) -> None:
        key = (name, _labels(labels))
        with self._lock:
            self._gauges.pop(key, None)
            self._counters.pop(key, None)

    def render(self) -> str:
        now = time.monotonic()
        lines: list[str] = []
        with self._lock:
            self.scrapes += 1
            rows: list[tuple[str, Labels, float]] = [(n, lb, v) for (n, lb), v in self._gauges.items()]
            rows += [
                (n, lb, value + rate * (now - since))
                for (n, lb), (value, rate, since) in self._counters.items()
            ]
        for name, labels, value in sorted(rows):
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{name}{{{inner}}} {value!r}")
        return "\n".join(lines) + "\n"


@contextmanager
def running_exporter() -> Iterator[tuple[str, MetricsExporter]]:
    """Serve a ``MetricsExporter`` on 127.0.0.1; yields ("host:port", exporter)."""
    exporter = MetricsExporter()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self.reply(200, exporter.render().encode(), content_type="text/plain; version=0.0.4")

    with serving(Handler) as url:
        yield url.removeprefix("http://"), exporter
