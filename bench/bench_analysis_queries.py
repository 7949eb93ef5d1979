"""Benchmark: the Prometheus queries canary analysis makes (issue 14's query budget).

Claim: the analysis adds at most one Prometheus query per check per interval per
deployment in progress.  Measured at the server: every request a Prometheus
receives is counted by endpoint by a loopback proxy in front of it.  The
Prometheus is the real binary (``prometheus`` on PATH, Debian package) scraping a
loopback exporter with one ``canary_error_ratio`` series per canary, or, with
``--stub`` or without the binary, a loopback stand-in that answers every query
with one series.

What is driven is ``reconciler.sync.analysis.AnalysisRunner``, the runner of
``sync --wait`` (``gate``) and ``status`` (``recompute``): M canary deployments
in progress, each opting into one template of K checks, followed for N
intervals.  The caller asks ``gate`` P times per interval for every deployment
(as a follow loop woken by deployment changes would), on a simulated clock
running over the seconds Prometheus has already scraped, so the count depends on
the code and not on timing, and every query returns real data (the bench fails
if a query errs; ``measured`` counts the results).  Checks have a 1s interval and
a window longer than the run (they stay pending): every interval needs a measurement.

Scenarios:
- ``fresh``: the runner follows each deployment from the start (sync --wait);
- ``late``: the runner first looks half-way through (a process attaching to a
  running analysis): one range query per check, then instant queries;
- ``passes``: as ``fresh`` with a window of 3: once a check passed it is never
  measured again, so 3 queries per check however long the canaries then wait;
- ``status``: ``recompute`` once per deployment at the end (one range query per check);
- ``background``: as ``fresh``, for rolling updates without canaries (``background``:
  the same deployments with no canaries, their new allocation healthy at the start).

    .venv/bin/python bench/bench_analysis_queries.py [--checks 1,3] [--deployments 1,10,50]
        [--intervals 10] [--calls-per-interval 5] [--stub] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.core.analysis_templates import build_catalog
from reconciler.deployment import Deployment, DeploymentGroup, DeploymentStatus
from reconciler.prometheus import PrometheusClient, PrometheusConfig
from reconciler.sync.analysis import AnalysisRunner

PASSES_AFTER = 3  # the "passes" scenario's window: measurements until each check passes
INTERVAL_S = 1.0  # the checks' interval; simulated time runs over Prometheus' real data


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_endpoint: collections.Counter[str] = collections.Counter()

    def add(self, path: str) -> None:
        with self.lock:
            self.by_endpoint[urlsplit(path).path] += 1

    def take(self) -> dict[str, int]:
        with self.lock:
            out = dict(self.by_endpoint)
            self.by_endpoint.clear()
        return out


@contextlib.contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def counting_proxy(upstream: str, counter: Counter) -> contextlib.AbstractContextManager[str]:
    """Relays requests (the client POSTs its queries) to ``upstream``, counting them by path."""

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.do_POST()

        def do_POST(self) -> None:
            counter.add(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else None
            request = urllib.request.Request(upstream + self.path, data=data, method=self.command)
            if data is not None:
                request.add_header("Content-Type", self.headers.get("Content-Type") or "")
            try:
                with urllib.request.urlopen(request, timeout=30) as resp:
                    status, body = resp.status, resp.read()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
            if status != 200:
                counter.add("error " + str(status))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return serve(Proxy)


def stub_prometheus(counter: Counter) -> contextlib.AbstractContextManager[str]:
    """Answers instant and range queries with one series (0.01), counting them."""

    class Stub(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.do_POST()

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
            counter.add(self.path)
            if urlsplit(self.path).path == "/api/v1/query_range":
                start, end, step = (float(form[k][0]) for k in ("start", "end", "step"))
                points = [[start + i * step, "0.01"] for i in range(int((end - start) / step + 1e-9) + 1)]
                data = {"resultType": "matrix", "result": [{"metric": {}, "values": points}]}
            else:
                data = {"resultType": "vector", "result": [{"metric": {}, "value": [0, "0.01"]}]}
            body = json.dumps({"status": "success", "data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return serve(Stub)


@contextlib.contextmanager
def real_prometheus(canaries: Sequence[str]) -> Iterator[str]:
    """The ``prometheus`` binary scraping an exporter of one gauge per canary."""
    binary = shutil.which("prometheus")
    assert binary is not None
    text = "".join(f'canary_error_ratio{{alloc_id="{c}"}} 0.01\n' for c in canaries).encode()

    class Exporter(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve(Exporter) as target, tempfile.TemporaryDirectory(prefix="bench-prom-") as work:
        (Path(work) / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s}\n"
            f"scrape_configs: [{{job_name: bench, static_configs: [{{targets: ['{target}']}}]}}]\n"
        )
        with contextlib.closing(__import__("socket").socket()) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        process = subprocess.Popen(
            [binary, f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/data",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:  # until it has scraped the exporter
                try:
                    with urllib.request.urlopen(url + "/api/v1/query?query=count(canary_error_ratio)") as r:
                        if json.loads(r.read())["data"]["result"]:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("prometheus did not scrape the exporter within 60s")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def template(checks: int, count: int = 10000) -> str:
    blocks = "".join(
        f'  check "c{i}" {{\n'
        f'    query    = "max(canary_error_ratio{{alloc_id=~\\"{{{{canary_alloc_ids}}}}\\"}}) + {i}"\n'
        f'    success  = "< 1000"\n    interval = "{INTERVAL_S:g}s"\n    count    = {count}\n  }}\n'
        for i in range(checks)
    )
    return f'analysis "bench" {{\n{blocks}}}\n'


def deployments(count: int) -> list[Deployment]:
    return [
        Deployment(
            id=f"{i:08d}-0000-0000-0000-000000000000", status=DeploymentStatus.RUNNING, job_id=f"web-{i}",
            job_version=2, groups=(DeploymentGroup(
                name="app", desired_total=2, placed_allocs=1, healthy_allocs=1, desired_canaries=1,
                placed_canaries=(f"{i:08d}-aaaa-0000-0000-000000000000",)),),
        )
        for i in range(count)
    ]


JOB: dict[str, Any] = {"Meta": {"gitops.analysis": "bench"}, "TaskGroups": [{"Name": "app"}]}


async def drive(
    url: str, *, checks: int, deps: list[Deployment], intervals: int, calls: int, scenario: str,
    start: float, results: collections.Counter[str],
) -> float:  # fmt: skip
    """Run one scenario; return the wall time spent in the runner; ``results`` counts the
    measurements' results (they must be real values, not failed queries) and, as
    ``nomad_reads``, the deployment allocation reads the runner asked Nomad for."""
    window = PASSES_AFTER if scenario == "passes" else 10000
    catalog = build_catalog({".reconciler/analysis/bench.hcl": template(checks, window)})
    assert not catalog.errors, catalog.errors
    now = start

    async def allocations(dep_id: str, *, namespace: str) -> list[dict[str, Any]]:
        # every canary healthy at ``start`` (Nomad's own timestamp)
        results.update(["nomad_reads"])
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
        return [{"ID": f"{dep_id[:8]}-aaaa-0000-0000-000000000000", "TaskGroup": "app", "JobVersion": 2,
                 "DeploymentStatus": {"Healthy": True, "Timestamp": stamp}}]  # fmt: skip

    began = time.perf_counter()
    async with PrometheusClient(PrometheusConfig(url=url)) as client:
        runner = AnalysisRunner(client, catalog, clock=lambda: now,
                                on_measurement=lambda _k, _c, m: results.update([m.result.value]))  # fmt: skip
        if scenario == "status":
            now = start + intervals * INTERVAL_S + 1
            for dep in deps:
                gate = await runner.recompute(("default", dep.job_id), dep, JOB, allocations=allocations)
                assert gate is not None and gate.status is not None, gate
                for check in gate.status.checks:
                    results.update(m.result.value for m in check.measurements)
            return time.perf_counter() - began
        first = intervals // 2 if scenario == "late" else 0
        if scenario == "background":  # the same rollouts without canaries
            deps = [dataclasses.replace(d, groups=tuple(
                dataclasses.replace(g, desired_canaries=0, placed_canaries=()) for g in d.groups)) for d in deps]
        judge = runner.background if scenario == "background" else runner.gate
        for tick in range(first * calls, intervals * calls + 1):
            now = start + tick * INTERVAL_S / calls + 0.5
            for dep in deps:
                gate = await judge(("default", dep.job_id), dep, JOB, allocations=allocations)
                assert gate is not None and gate.verdict is not None, gate
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", default="1,3")
    parser.add_argument("--deployments", default="1,10,50")
    parser.add_argument("--intervals", type=int, default=10)
    parser.add_argument("--calls-per-interval", type=int, default=5)
    parser.add_argument("--scenarios", default="fresh,late,passes,status,background")
    parser.add_argument("--stub", action="store_true", help="a loopback stand-in, not the real binary")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    ks = [int(k) for k in args.checks.split(",")]
    ms = [int(m) for m in args.deployments.split(",")]
    real = not args.stub and shutil.which("prometheus") is not None
    counter = Counter()
    rows: list[dict[str, Any]] = []
    all_canaries = [d.groups[0].placed_canaries[0] for d in deployments(max(ms))]
    with contextlib.ExitStack() as stack:
        upstream = stack.enter_context(real_prometheus(all_canaries)) if real else None
        if upstream is not None:
            address = stack.enter_context(counting_proxy(upstream, counter))
        else:
            address = stack.enter_context(stub_prometheus(counter))
        # The simulated analyses run over what Prometheus has scraped (the grid times are
        # in its data); whole seconds: the canaries' health timestamp is read back exactly.
        start = float(int(time.time()) + 1)
        time.sleep(max(0.0, start + (args.intervals + 1) * INTERVAL_S - time.time()))
        for k in ks:
            for m in ms:
                for scenario in args.scenarios.split(","):
                    counter.take()
                    results: collections.Counter[str] = collections.Counter()
                    wall = asyncio.run(drive(
                        f"http://{address}", checks=k, deps=deployments(m), intervals=args.intervals,
                        calls=args.calls_per_interval, scenario=scenario, start=start,
                        results=results))  # fmt: skip
                    got = counter.take()
                    # over the deployments' whole analysis (N intervals); status: one look
                    n = args.intervals
                    budget = {"status": k * m, "passes": k * m * PASSES_AFTER}.get(scenario, k * m * n)
                    calls = (n - (n // 2 if scenario == "late" else 0)) * args.calls_per_interval + 1
                    instant = got.get("/api/v1/query", 0)
                    ranged = got.get("/api/v1/query_range", 0)
                    errors = sum(v for e, v in got.items() if e.startswith("error"))
                    rows.append({"checks": k, "deployments": m, "intervals": n, "scenario": scenario,
                                 "instant": instant, "range": ranged, "budget": budget, "errors": errors,
                                 "gate_calls": 0 if scenario == "status" else m * calls,
                                 "nomad_reads": results.pop("nomad_reads", 0),
                                 "measured": dict(results),
                                 "wall_s": round(wall, 3)})  # fmt: skip
                    print(json.dumps(rows[-1]), flush=True)
    machine = {"python": platform.python_version(), "system": platform.system(), "cpus": os.cpu_count(),
               "processor": platform.processor() or platform.machine(),
               "prometheus": "real" if real else "stub"}  # fmt: skip
    print(json.dumps(machine))
    over = [r for r in rows if r["instant"] + r["range"] > r["budget"] or r["errors"]]
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    if over:
        raise SystemExit(f"over budget: {over}")


if __name__ == "__main__":
    main()
