"""Benchmark: the daemon's reaction times and idle cost, as a real subprocess.

Starts the Nomad fake in this process and ``python -m reconciler daemon`` (with
its default debounce of 100 ms / 1 s) on a git checkout of ``--jobs`` service
jobs, waits until every job is registered and reported in sync, then measures:

1. idle CPU of the daemon process (and its children) over ``--idle`` seconds
   with no change anywhere, and its RSS with all jobs loaded;
2. file-save → registered latency over ``--edits`` edits: one job file is
   rewritten (a plain save: truncate + write), and the clock stops when the fake
   has the new spec (the fake's state condition wakes the waiter at once);
3. out-of-band change → healed over ``--oob`` changes: a job's count is
   changed through Nomad's HTTP API, and the clock stops when the daemon has
   registered the declared spec again (so detection + one registration).

Prints a table; ``--json FILE`` writes the numbers.

    .venv/bin/python bench/bench_daemon.py [--jobs 1000] [--edits 100] [--oob 20] [--idle 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import DaemonProcess
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "loadavg": os.getloadavg()}


def arg_of(fake: FakeNomad, job_id: str) -> str | None:
    job = fake.read_job(job_id)
    return None if job is None else str(job["TaskGroups"][0]["Tasks"][0]["Config"]["args"][0])


def count_of(fake: FakeNomad, job_id: str) -> int | None:
    job = fake.read_job(job_id)
    return None if job is None else int(job["TaskGroups"][0]["Count"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--oob", type=int, default=20)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    results: dict[str, Any] = {"machine_before": machine(), "jobs": args.jobs}

    with tempfile.TemporaryDirectory() as tmp, FakeNomad() as fake:
        repo = GitCheckout(Path(tmp) / "jobs")
        ids = [f"svc{i:04d}" for i in range(args.jobs)]
        for i, job_id in enumerate(ids):
            repo.write(f"team{i % 10}/{job_id}.nomad", job_hcl(job_id, arg="0"))
        repo.commit("jobs")

        started = time.perf_counter()
        daemon = DaemonProcess(
            repo.root, fake.address, "--log-level", "info",
            "--debounce", "100ms", "--debounce-max", "1s", "--settle", "1s",
        )  # fmt: skip
        try:
            wait_until(lambda: all(fake.read_job(j) is not None for j in ids[-5:]),
                       timeout=600, what="jobs registered")
            daemon.wait_metric("nomad_reconciler_jobs", lambda v: v == args.jobs, timeout=600,
                               state="in_sync")
            results["startup_to_all_in_sync_s"] = time.perf_counter() - started
            proc = psutil.Process(daemon.proc.pid)

            # Let the initial deployments finish before measuring "idle".
            wait_until(lambda: all((fake.latest_deployment(j) or {}).get("Status") != "running"
                                   for j in ids), timeout=600, what="deployments done")
            # ... and until the daemon has seen every rollout end (no re-checks pending).
            wait_until(lambda: daemon.metrics().sum("nomad_reconciler_job_deployment_status",
                                                    status="running") == 0,
                       timeout=300, what="the daemon saw every rollout end")
            requests0 = len(fake.request_log)
            cpu0, t0 = cpu_seconds(proc), time.perf_counter()
            time.sleep(args.idle)  # measuring an idle interval, not synchronising
            cpu1, t1 = cpu_seconds(proc), time.perf_counter()
            idle_requests = fake.request_log[requests0:]
            by_endpoint: dict[str, int] = {}
            for method, path, _q, _s in idle_requests:
                parts = path.split("/")
                if len(parts) > 3 and parts[2] == "job":
                    parts[3] = ":id"  # endpoint templates, not 1,000 job names
                label = f"{method} {'/'.join(parts)}"
                by_endpoint[label] = by_endpoint.get(label, 0) + 1
            results["idle_nomad_requests"] = by_endpoint
            results["idle_cpu_percent_of_core"] = 100.0 * (cpu1 - cpu0) / (t1 - t0)
            results["idle_window_s"] = t1 - t0
            results["rss_mb"] = proc.memory_info().rss / 1e6

            latencies: list[float] = []
            for n in range(args.edits):
                job_id = rng.choice(ids)
                new_arg = f"e{n}"
                path = repo.root / f"team{ids.index(job_id) % 10}/{job_id}.nomad"
                t_save = time.perf_counter()
                path.write_text(job_hcl(job_id, arg=new_arg))
                ok = fake.wait_for(lambda j=job_id, a=new_arg: arg_of(fake, j) == a, timeout=10)
                if not ok:
                    raise SystemExit(f"edit {n}: {job_id} not registered within 10 s")
                latencies.append(time.perf_counter() - t_save)
            results["save_to_registered_s"] = {
                "n": len(latencies), "p50": percentile(latencies, 0.5),
                "p95": percentile(latencies, 0.95), "max": max(latencies),
            }

            heals: list[float] = []
            for _n in range(args.oob):
                job_id = rng.choice(ids)
                job = fake.read_job(job_id)
                assert job is not None
                want = int(job["TaskGroups"][0]["Count"])
                job["TaskGroups"][0]["Count"] = want + 2
                t_change = time.perf_counter()
                httpx.put(f"{fake.address}/v1/jobs", json={"Job": job}, timeout=5).raise_for_status()
                ok = fake.wait_for(lambda j=job_id, w=want: count_of(fake, j) == w, timeout=10)
                if not ok:
                    raise SystemExit(f"out-of-band change of {job_id} not healed within 10 s")
                heals.append(time.perf_counter() - t_change)
            results["out_of_band_to_healed_s"] = {
                "n": len(heals), "p50": percentile(heals, 0.5),
                "p95": percentile(heals, 0.95), "max": max(heals),
            }
            metrics = daemon.metrics()
            results["drift_detection_count"] = metrics.get(
                "nomad_reconciler_drift_detection_seconds_count")
            total = metrics.get("nomad_reconciler_drift_detection_seconds_sum") or 0.0
            results["drift_detection_mean_s"] = total / max(results["drift_detection_count"] or 1, 1)
            results["rss_mb_end"] = proc.memory_info().rss / 1e6
        finally:
            results["exit_code"] = daemon.stop(timeout=30)
    results["machine_after"] = machine()

    print(f"jobs: {args.jobs}; machine: {results['machine_before']}")
    print(f"start-up to all in sync: {results['startup_to_all_in_sync_s']:.1f} s")
    print(f"idle CPU over {results['idle_window_s']:.0f} s: "
          f"{results['idle_cpu_percent_of_core']:.2f} % of a core; RSS {results['rss_mb']:.0f} MB")
    print(f"Nomad requests while idle: {results['idle_nomad_requests']}")
    s = results["save_to_registered_s"]
    print(f"file save → registered ({s['n']} edits): p50 {s['p50'] * 1000:.0f} ms, "
          f"p95 {s['p95'] * 1000:.0f} ms, max {s['max'] * 1000:.0f} ms")
    o = results["out_of_band_to_healed_s"]
    print(f"out-of-band change → healed ({o['n']}): p50 {o['p50'] * 1000:.0f} ms, "
          f"p95 {o['p95'] * 1000:.0f} ms, max {o['max'] * 1000:.0f} ms")
    print(f"drift detections counted by the daemon: {results['drift_detection_count']} "
          f"(for {o['n']} out-of-band changes), mean detection latency "
          f"{results['drift_detection_mean_s'] * 1000:.0f} ms (its own histogram)")
    print(f"RSS at end: {results['rss_mb_end']:.0f} MB; exit code {results['exit_code']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
