"""How long and how much memory one big job file costs to load, and what the size cap saves.

Builds one HCL2 job of about the given size (a realistic group repeated: update
block, network, service with a check, a task with a template and resources),
and for each size loads it in a fresh child process: wall time of
``load_directory`` (serial, no cache) and the child's peak RSS.  Then the cost
of refusing a file over ``--max-file-size`` (it is never read whole).

    python bench/bench_file_size.py [--sizes 64KiB,256KiB,1MiB] [--refuse 5MiB,50MiB]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GROUP = """
  group "g{i}" {{
    count = 2
    update {{
      max_parallel     = 1
      canary           = 1
      min_healthy_time = "10s"
      healthy_deadline = "5m"
      auto_revert      = true
    }}
    network {{
      port "http" {{ to = 8080 }}
    }}
    service {{
      name = "svc-{i}"
      port = "http"
      tags = ["team-{i}", "v1"]
      check {{
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }}
    }}
    task "app" {{
      driver = "docker"
      config {{
        image = "registry.example.com/app-{i}:1.2.3"
        ports = ["http"]
        args  = ["--listen", ":8080", "--name", "app-{i}"]
      }}
      env {{
        LOG_LEVEL = "info"
        INSTANCE  = "g{i}"
      }}
      template {{
        destination = "local/app.conf"
        data        = <<EOT
listen = ":8080"
name   = "app-{i}"
EOT
      }}
      resources {{
        cpu    = 100
        memory = 128
      }}
    }}
  }}
"""


def make_job(size: int) -> str:
    parts = ['job "big" {\n  datacenters = ["dc1"]\n']
    i = 0
    while sum(map(len, parts)) < size:
        parts.append(GROUP.format(i=i))
        i += 1
    parts.append("}\n")
    return "".join(parts)


def parse_size(text: str) -> int:
    from reconciler.jobspec.loader import parse_size as parse

    return parse(text)


def child(path: str, limit: int) -> None:
    from reconciler.jobspec.loader import load_directory
    from reconciler.jobspec.variables import VariableInputs

    started, cpu = time.perf_counter(), time.process_time()
    snap = load_directory(path, inputs=VariableInputs(), workers=1, max_file_size=limit)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked parent.
    status = Path("/proc/self/status").read_text()
    rss_mib = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024
    print(json.dumps({"seconds": took, "cpu_seconds": cpu, "peak_rss_mib": rss_mib, "jobs": len(snap.jobs),
                      "errors": [e.message[:80] for e in snap.errors]}))  # fmt: skip


def run_child(directory: Path, limit: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(directory), "--limit", str(limit)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, object] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64KiB,256KiB,512KiB,1MiB")
    parser.add_argument("--refuse", default="5MiB,50MiB")
    parser.add_argument("--child")
    parser.add_argument("--limit", type=int, default=256 * 1024)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.limit)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty"
        empty.mkdir()
        baseline = run_child(empty, args.limit)
        print(f"baseline (empty dir): {baseline['seconds']:.3f} s, "
              f"peak RSS {baseline['peak_rss_mib']:.0f} MiB")  # fmt: skip
        for label in args.sizes.split(","):
            d = Path(tmp) / f"parse-{label}"
            d.mkdir()
            text = make_job(parse_size(label))
            (d / "big.nomad").write_text(text)
            r = run_child(d, max(args.limit, len(text)))
            rows.append({"case": f"parse {label}", "bytes": len(text), **r})
        for label in args.refuse.split(","):
            d = Path(tmp) / f"refuse-{label}"
            d.mkdir()
            size = parse_size(label)
            unit = GROUP.format(i=0)
            with open(d / "big.nomad", "w") as fh:  # in pieces: the parent stays small
                fh.write('job "big" {\n')
                for _ in range(size // len(unit)):
                    fh.write(unit)
                fh.write("}\n")
            r = run_child(d, args.limit)
            rows.append({"case": f"refuse {label}", "bytes": size, **r})
    for row in rows:
        print(f"{row['case']:>16}: {row['bytes']:>9} bytes  {row['seconds']:7.3f} s  "
              f"cpu {row['cpu_seconds']:7.3f} s  "
              f"peak RSS {row['peak_rss_mib']:5.0f} MiB  jobs={row['jobs']} "
              f"errors={row['errors']}")  # fmt: skip


if __name__ == "__main__":
    main()
