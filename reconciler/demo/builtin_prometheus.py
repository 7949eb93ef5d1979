"""The demo's own Prometheus query API, for machines without the ``prometheus`` binary.

Responsible for answering ``/api/v1/query`` and ``/api/v1/query_range`` (GET
or form POST, as ``reconciler.prometheus`` asks) from the demo exporter's
counters (``traffic.TrafficExporter``), for the one shape of query the demo's
analysis template uses: ``sum(rate(METRIC{matchers}[WINDOW]))``, alone or
divided by another such sum.  Anything else is refused as Prometheus refuses a
query it cannot parse (HTTP 400, ``bad_data``): this is not a PromQL engine,
and it says so rather than answering wrongly.

``rate()`` here is the increase over the part of the window the series
existed, per second: the exporter's counters grow at known rates, so that is
the rate Prometheus would report (it extrapolates from scraped samples).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from reconciler.demo.traffic import METRIC, Labels, TrafficExporter

SUPPORTED = "sum(rate(metric{...}[window])), optionally divided by another such sum"
_STRING = r'"((?:[^"\\]|\\.)*)"'
_MATCHER = re.compile(rf"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*{_STRING}\s*(,|$)")
_SUM_RATE = re.compile(
    r"\s*sum\s*\(\s*rate\s*\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*\{(.*?)\}\s*\[\s*(\d+)(s|m)\s*\]\s*\)\s*\)\s*",
    re.DOTALL,
)


class UnsupportedQuery(ValueError):
    pass


@dataclass(frozen=True)
class SumRate:
    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value)
    window_s: float

    def matches(self, labels: Labels) -> bool:
        have = dict(labels)
        for name, op, value in self.matchers:
            got = have.get(name, "")
            if op in ("=~", "!~"):
                hit = re.fullmatch(value, got) is not None  # PromQL anchors its regexes
                if hit != (op == "=~"):
                    return False
            elif (got == value) != (op == "="):
                return False
        return True


def parse_query(text: str) -> tuple[SumRate, SumRate | None]:
    """``sum(rate(...))`` or ``sum(rate(...)) / sum(rate(...))``; ``UnsupportedQuery`` otherwise."""
    first = _SUM_RATE.match(text)
    if first is None:
        raise UnsupportedQuery(f"the demo's built-in query API answers only {SUPPORTED}")
    rest = text[first.end():]
    if not rest.strip():
        return _sum_rate(first), None
    second = _SUM_RATE.fullmatch(rest.strip()[1:]) if rest.strip().startswith("/") else None
    if second is None:
        raise UnsupportedQuery(f"the demo's built-in query API answers only {SUPPORTED}")
    return _sum_rate(first), _sum_rate(second)


def _sum_rate(match: re.Match[str]) -> SumRate:
    metric, inner, amount, unit = match.groups()
    matchers = []
    at = 0
    while at < len(inner.strip()):
        m = _MATCHER.match(inner.strip(), at)
        if m is None:
            raise UnsupportedQuery(f"cannot read the label matchers {{{inner.strip()}}}")
        value = re.sub(r"\\(.)", r"\1", m.group(3))
        matchers.append((m.group(1), m.group(2), value))
        at = m.end()
    return SumRate(metric, tuple(matchers), float(amount) * (60 if unit == "m" else 1))


def evaluate(query: tuple[SumRate, SumRate | None], exporter: TrafficExporter, at: float) -> float | None:
    """The query's value at Unix time ``at``; ``None`` for an empty result (no series)."""
    series = exporter.series()

    def sum_rate(part: SumRate) -> float | None:
        rates = []
        for labels, counter in series:
            if part.metric != METRIC or not part.matches(labels) or counter.created >= at:
                continue
            since = max(at - part.window_s, counter.created)
            now_v, then_v = counter.value_at(at), counter.value_at(since)
            if now_v is not None and then_v is not None:
                rates.append((now_v - then_v) / (at - since))
        return sum(rates) if rates else None

    top = sum_rate(query[0])
    if query[1] is None or top is None:
        return top
    bottom = sum_rate(query[1])
    if bottom is None:
        return None
    if bottom == 0:
        return math.nan if top == 0 else math.copysign(math.inf, top)
    return top / bottom


def _number(value: float) -> str:
    return "NaN" if math.isnan(value) else ("+Inf" if value == math.inf else repr(value))


def answer(path: str, params: dict[str, str], exporter: TrafficExporter, now: float) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body Prometheus' API v1 would give."""
    try:
        query = parse_query(params.get("query", ""))
        if path == "/api/v1/query":
            at = float(params.get("time") or now)
            value = evaluate(query, exporter, at)
            result = [] if value is None else [{"metric": {}, "value": [at, _number(value)]}]
            return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}
        if path == "/api/v1/query_range":
            start, end, step = (float(params[k]) for k in ("start", "end", "step"))
            if step <= 0 or end < start or (end - start) / step > 11000:
                raise UnsupportedQuery("bad start, end or step")
            points = []
            for i in range(int((end - start) / step) + 1):
                value = evaluate(query, exporter, start + i * step)
                if value is not None:
                    points.append([start + i * step, _number(value)])
            result = [{"metric": {}, "values": points}] if points else []
            return 200, {"status": "success", "data": {"resultType": "matrix", "result": result}}
    except (UnsupportedQuery, KeyError, ValueError) as exc:
        return 400, {"status": "error", "errorType": "bad_data", "error": f'invalid parameter "query": {exc}'}
    return 404, {"status": "error", "errorType": "not_found", "error": f"{path}: not served by the demo"}


@contextmanager
def serving_builtin_prometheus(exporter: TrafficExporter, clock: Callable[[], float]) -> Iterator[str]:
    """Serve the query API on 127.0.0.1; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, params: dict[str, list[str]]) -> None:
            flat = {k: v[-1] for k, v in params.items()}
            status, body = answer(urlsplit(self.path).path, flat, exporter, clock())
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply(parse_qs(urlsplit(self.path).query))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._reply(parse_qs(self.rfile.read(length).decode()))

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
