"""Benchmark: syncing 1,000 jobs against the Nomad fake over loopback HTTP.

Measures, with the requests each step sends (by endpoint):

1. first sync into an empty cluster, then the pass that reads back once
   what this process wrote (to catch a job Nomad keeps reporting changed);
2. a no-op re-sync in the same process (the daemon's case: per-process memory),
   with the directory re-scan timed separately;
3. a fresh one-shot no-op sync (new process state) against a server that lists
   Meta (fake version 1.6.0) and one that does not (1.0.18);
4. a one-job change in the same process;
5. a `nomad-reconciler plan` process over the in-sync jobs (what CI runs), and
   the same over jobs adopted from `nomad job run` (no ownership stamp: each is
   read and diffed locally; Nomad's plan, the arbiter, must not be asked).

Jobs are JSON job specifications derived from the golden corpus so the
benchmark does not depend on the HCL converter's speed (bench_load.py covers
loading).  Targets (issue 4): no-op re-sync in the same process ≤ 2 requests
and ≤ 0.5 s beyond the re-scan; fresh one-shot no-op ≤ 1 list request where
the server lists Meta; one-job change ≤ 3 requests for that job; a no-op
`plan` of 1,000 in-sync jobs ≤ 2 requests (issue 9), with no Nomad plan
request on any version the fake models.

    .venv/bin/python bench/bench_sync.py [--jobs 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import copy
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.config.connection import NomadConfig
from reconciler.core.plan import SyncPolicy
from reconciler.jobspec.loader import LoadCache, load_directory
from reconciler.jobspec.variables import VariableInputs
from reconciler.sync.api import Registration
from reconciler.sync.engine import Reconciler
from reconciler.sync.session import connect
from reconciler.testing.fake_nomad import FakeNomad, HealthModel

GOLDEN = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "golden"
    / "jobspec"
    / "01-minimal-service.output.json"
)


def write_jobs(root: Path, count: int) -> None:
    base = json.loads(GOLDEN.read_text())["Job"]
    for i in range(count):
        job = copy.deepcopy(base)
        job["ID"] = job["Name"] = f"svc-{i:04d}"
        job["Priority"] = 40 + i % 30
        task = job["TaskGroups"][0]["Tasks"][0]
        task["Env"] = {"INSTANCE": str(i), "TEAM": f"team-{i % 8}"}
        job["Meta"] = {"team": f"team-{i % 8}"}
        (root / f"team-{i % 8}").mkdir(exist_ok=True)
        (root / f"team-{i % 8}" / f"svc-{i:04d}.json").write_text(
            json.dumps({"Job": job}, indent=2)
        )


_ID = re.compile(r"^/v1/(job|deployment)/[^/]+")


def by_endpoint(log: list[tuple[str, str, str, int]]) -> dict[str, int]:
    counts: collections.Counter[str] = collections.Counter()
    for method, path, _, _ in log:
        counts[f"{method} {_ID.sub(lambda m: f'/v1/{m.group(1)}/:id', path)}"] += 1
    return dict(sorted(counts.items()))


async def measure(fake: FakeNomad, label: str, coro: Any) -> tuple[Any, dict[str, Any]]:
    fake.clear_request_log()
    start = time.perf_counter()
    result = await coro
    wall = time.perf_counter() - start
    log = fake.request_log
    return result, {
        "step": label,
        "wall_s": round(wall, 3),
        "requests": len(log),
        "by_endpoint": by_endpoint(log),
    }


def cli_process_row(fake: FakeNomad, command: str, root: Path, step: str) -> dict[str, Any]:
    """Run ``nomad-reconciler COMMAND ROOT`` as a new process (cold load included); its requests."""
    fake.clear_request_log()
    t = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", command, str(root), "--address", fake.address],
        capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    log = fake.request_log
    return {
        "step": step, "wall_s": round(time.perf_counter() - t, 3), "requests": len(log),
        "by_endpoint": by_endpoint(log),
    }  # fmt: skip


async def run(count: int, version: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeNomad(version=version, health=HealthModel(time_scale=0.001)) as fake,
    ):
        root = Path(tmp)
        write_jobs(root, count)
        cache = LoadCache()
        inputs = VariableInputs()
        t = time.perf_counter()
        snap = load_directory(root, inputs=inputs, cache=cache)
        rows.append({"step": f"[{version}] cold load", "wall_s": round(time.perf_counter() - t, 3)})
        assert not snap.errors, snap.errors[:3]
        config = NomadConfig(address=fake.address, timeout=60)
        async with connect(config) as api:
            engine = Reconciler(api, SyncPolicy())
            result, row = await measure(
                fake, f"[{version}] first sync ({count} jobs)", engine.reconcile(snap)
            )
            assert result.count(result.outcomes[0].result) == count
            rows.append(row)

            t = time.perf_counter()
            snap = load_directory(root, inputs=inputs, cache=cache)
            rescan = time.perf_counter() - t
            rows.append(
                {"step": f"[{version}] directory re-scan (cached)", "wall_s": round(rescan, 3)}
            )
            # The pass after a write reads back what this process wrote, once.
            result, row = await measure(
                fake, f"[{version}] read-back pass after the writes", engine.reconcile(snap)
            )
            assert not result.failed and "PUT /v1/job/:id/plan" not in row["by_endpoint"]
            rows.append(row)
            result, row = await measure(
                fake, f"[{version}] no-op re-sync, same process", engine.reconcile(snap)
            )
            assert result.count(result.outcomes[0].result) == count and not result.failed
            rows.append(row)

            fresh = Reconciler(api, SyncPolicy())
            result, row = await measure(
                fake, f"[{version}] fresh one-shot no-op sync", fresh.reconcile(snap)
            )
            assert all(o.result.value == "unchanged" for o in result.outcomes)
            rows.append(row)

            # Real one-shot processes, as CI runs them: load + version + list.
            rows.append(cli_process_row(
                fake, "sync", root, f"[{version}] `nomad-reconciler sync` process, no-op"))

            rows.append(cli_process_row(
                fake, "plan", root, f"[{version}] `nomad-reconciler plan` process, in sync"))

            target = root / "team-3" / "svc-0003.json"
            doc = json.loads(target.read_text())
            doc["Job"]["TaskGroups"][0]["Count"] = 2
            target.write_text(json.dumps(doc))
            snap = load_directory(root, inputs=inputs, cache=cache)
            result, row = await measure(
                fake, f"[{version}] one-job change, same process", engine.reconcile(snap)
            )
            changed = [o for o in result.outcomes if o.result.value == "updated"]
            assert [o.key[1] for o in changed] == ["svc-0003"], changed
            # everything but the list call concerns the changed job (only it was registered)
            row["registers"] = sum(
                1 for m, p, _, _ in fake.request_log if (m, p) == ("PUT", "/v1/jobs")
            )
            row["requests_for_that_job"] = sum(
                1
                for m, p, _, _ in fake.request_log
                if "/svc-0003" in p or (m, p) == ("PUT", "/v1/jobs")
            )
            rows.append(row)
    return rows


async def adopted(count: int, version: str) -> list[dict[str, Any]]:
    """Jobs registered by hand (no stamp): a fresh `plan` reads and diffs each locally."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeNomad(version=version, health=HealthModel(time_scale=0.001)) as fake,
    ):
        root = Path(tmp)
        write_jobs(root, count)
        async with connect(NomadConfig(address=fake.address, timeout=60)) as api:
            for path in sorted(root.rglob("*.json")):
                job = json.loads(path.read_text())["Job"]
                await api.register_job(Registration(job))
        return [cli_process_row(
            fake, "plan", root, f"[{version}] `plan` process over {count} adopted (unstamped) jobs")]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args()
    print(
        f"# machine: {platform.machine()} {platform.processor() or ''} {platform.system()} "
        f"python {platform.python_version()}"
    )
    for version in ("2.0.5", "1.6.0", "1.0.18"):
        for row in asyncio.run(run(args.jobs, version)) + asyncio.run(adopted(args.jobs, version)):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
