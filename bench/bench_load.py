"""Benchmark: loading a jobs directory (cold, warm re-scan, one changed file).

Generates a realistic repository (``bench/generate_jobs.py``, 1,000 files of
about 3 KB by default) in a temporary directory, then measures in this order:

1. cold load with a fresh ``LoadCache`` and the process pool (``--workers``);
2. warm re-scans of the unchanged directory with that cache (every file is
   read and hashed, none re-parsed);
3. one changed file per load (a different file each time);
4. peak RSS: this process plus its pool workers, sampled during the cold
   load, and this process's own peak taken before the serial phases below;
5. cold load without pool or cache (the project's own per-file cost);
6. python-hcl2's raw ``hcl2.loads`` of every HCL file (syntax only: no
   variables, no conversion, no canonical form) for comparison.

Prints a table and, with ``--json FILE``, writes the numbers.  Timings are
wall clock (``time.perf_counter``); medians over ``--repeat`` runs.

    .venv/bin/python bench/bench_load.py [--count 1000] [--workers 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_jobs import generate

from reconciler.jobspec.loader import LoadCache, load_directory
from reconciler.jobspec.parse_pool import default_workers
from reconciler.jobspec.variables import VariableInputs


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def cpu_timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn`` in this process: CPU time barely moves when
    other work shares the machine, wall time does."""
    cpu = time.process_time()
    wall, _ = timed(fn)
    return wall, time.process_time() - cpu


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


class RssSampler:
    """Peak RSS of this process plus all its descendants (the pool workers live
    under the forkserver, so ``RUSAGE_CHILDREN`` cannot see them), sampled every 10 ms."""

    def __init__(self) -> None:
        import psutil

        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak_total_mb = 0.0
        self.peak_workers_mb = 0.0

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.01):
            workers = 0
            for child in self._me.children(recursive=True):
                with contextlib.suppress(psutil.Error):  # exited between listing and reading
                    workers += child.memory_info().rss
            total = self._me.memory_info().rss + workers
            self.peak_total_mb = max(self.peak_total_mb, total / 2**20)
            self.peak_workers_mb = max(self.peak_workers_mb, workers / 2**20)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def run(root: Path, *, workers: int, repeat: int) -> dict[str, Any]:
    inputs = VariableInputs()
    files = sorted(p for p in root.rglob("*") if p.suffix in (".nomad", ".json"))
    out: dict[str, Any] = {"files": len(files)}
    out["bytes_per_file"] = round(sum(f.stat().st_size for f in files) / len(files))

    cache = LoadCache()
    with RssSampler() as sampler:
        cold, snap = timed(
            lambda: load_directory(root, inputs=inputs, cache=cache, workers=workers)
        )
    out["peak_rss_cold_total_mb"] = sampler.peak_total_mb
    out["peak_rss_cold_workers_mb"] = sampler.peak_workers_mb
    if snap.errors:
        raise SystemExit("benchmark repository has load errors:\n" + "\n".join(
            d.describe() for d in snap.errors[:10]))
    out["jobs"] = len(snap.jobs)
    out["cold_pool_s"] = cold
    out["cold_parsed"] = len(cache.parsed)

    warm = []
    for _ in range(repeat):
        t, _snap = timed(lambda: load_directory(root, inputs=inputs, cache=cache, workers=workers))
        assert cache.parsed == (), "warm re-scan re-parsed files"
        warm.append(t)
    out["warm_s_median"] = statistics.median(warm)
    out["warm_s_max"] = max(warm)

    changed = []
    for i in range(repeat):
        target = files[(i * 97) % len(files)]
        with target.open("a") as fh:
            fh.write(" \n")  # a content change that keeps the job valid (JSON and HCL)
        t, _snap = timed(lambda: load_directory(root, inputs=inputs, cache=cache, workers=workers))
        assert len(cache.parsed) == 1, cache.parsed
        changed.append(t)
    out["one_changed_s_median"] = statistics.median(changed)
    out["one_changed_s_max"] = max(changed)

    out["peak_rss_main_mb"] = rss_mb(resource.RUSAGE_SELF)

    serial, serial_cpu = cpu_timed(lambda: load_directory(root, inputs=inputs, workers=1))
    out["cold_serial_s"] = serial
    out["project_ms_per_file"] = serial / len(files) * 1000
    out["project_cpu_ms_per_file"] = serial_cpu / len(files) * 1000

    import hcl2  # python-hcl2: syntax only

    hcl_files = [f for f in files if f.suffix == ".nomad"]
    texts = [f.read_text() for f in hcl_files]
    raw, raw_cpu = cpu_timed(lambda: [hcl2.loads(t) for t in texts])
    out["hcl2_files"] = len(hcl_files)
    out["hcl2_raw_s"] = raw
    out["hcl2_raw_ms_per_file"] = raw / len(hcl_files) * 1000
    out["hcl2_raw_cpu_ms_per_file"] = raw_cpu / len(hcl_files) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        root = Path(tmp)
        generate(root, count=args.count, seed=args.seed)
        load_before = os.getloadavg()[0]
        numbers = run(root, workers=args.workers, repeat=args.repeat)
        load_after = os.getloadavg()[0]
    numbers["machine"] = {
        # Other work on the machine slows every phase, and the pool most of all.
        "loadavg_1m_before_after": [load_before, load_after],
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "workers": args.workers,
    }
    rows = [
        ("files (bytes each)", f"{numbers['files']} ({numbers['bytes_per_file']} B)"),
        ("cold load, pool", f"{numbers['cold_pool_s']:.2f} s"),
        ("warm re-scan (median / max)",
         f"{numbers['warm_s_median'] * 1000:.0f} / {numbers['warm_s_max'] * 1000:.0f} ms"),
        ("one changed file (median / max)",
         f"{numbers['one_changed_s_median'] * 1000:.0f} / "
         f"{numbers['one_changed_s_max'] * 1000:.0f} ms"),
        ("peak RSS, cold load: main + workers (workers)",
         f"{numbers['peak_rss_cold_total_mb']:.0f} MB ({numbers['peak_rss_cold_workers_mb']:.0f} MB)"),
        ("peak RSS, main process after warm/changed", f"{numbers['peak_rss_main_mb']:.0f} MB"),
        ("cold load, serial, no cache", f"{numbers['cold_serial_s']:.2f} s "
         f"({numbers['project_ms_per_file']:.2f} ms/file, "
         f"CPU {numbers['project_cpu_ms_per_file']:.2f} ms/file)"),
        ("python-hcl2 raw parse (HCL files)", f"{numbers['hcl2_raw_s']:.2f} s "
         f"({numbers['hcl2_raw_ms_per_file']:.2f} ms/file, "
         f"CPU {numbers['hcl2_raw_cpu_ms_per_file']:.2f} ms/file)"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    m = numbers["machine"]
    print(f"machine: nproc={m['nproc']}, {m['cpu']}, Python {m['python']}, workers={m['workers']}, "
          "1-min load average before/after: "
          f"{m['loadavg_1m_before_after'][0]:.2f}/{m['loadavg_1m_before_after'][1]:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")


if __name__ == "__main__":
    main()
