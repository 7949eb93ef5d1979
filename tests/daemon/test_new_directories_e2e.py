"""Files in newly created directories never leave the daemon waiting for a close event.

watchdog reports the files of a directory it starts watching as "created", and
no "closed" follows: 30 new directories used to make every later change wait
10 s (the bounded wait for writers) until a restart, while the latency metric,
timed from the delayed pass, still reported 0.08 s.  Real files, real
watchdog, the daemon as a subprocess.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import DaemonProcess
from tests.support.fake_state import count_of
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

LATENCY = "nomad_reconciler_change_to_registered_seconds"
QUIET_S = 1.0  # --debounce: a pass comes at least this long after a file's first event


def test_new_directories_never_stall_later_changes(
    fake: FakeNomad, repo: GitCheckout, start_with_web: Callable[..., DaemonProcess]
) -> None:
    daemon = start_with_web("--debounce", "1s", "--debounce-max", "3s", path="base/web.nomad")

    teams = [f"team{i:02d}" for i in range(30)]
    for team in teams:
        repo.write(f"{team}/svc.nomad", job_hcl(f"{team}-svc"))
    repo.commit("30 teams, each in a new directory")
    wait_until(lambda: all(count_of(fake, f"{t}-svc") == 1 for t in teams), timeout=60,
               what="30 new jobs")  # fmt: skip
    daemon.wait_metric(f"{LATENCY}_count", lambda v: (v or 0) >= 30, timeout=30)
    before = daemon.metrics().get(f"{LATENCY}_count") or 0

    for round_ in (2, 3):  # later changes: each must pass without waiting on those files
        repo.write("base/web.nomad", job_hcl("web", count=round_))
        repo.commit(f"web: {round_}")
        wait_until(lambda n=round_: count_of(fake, "web") == n, what=f"web at {round_}")  # type: ignore[misc]
    daemon.wait_metric(f"{LATENCY}_count", lambda v: v == before + 2, timeout=30)

    waits = daemon.logs("waiting for files being written") + daemon.logs(
        "files still open for writing; loading them anyway"
    )
    stalled = {p for record in waits for p in record.get("paths", []) if p.startswith("team")}
    assert stalled == set(), f"waited on close events that never came: {sorted(stalled)[:5]}"
    # Latency counts from the first file event, so no change can look faster than the debounce.
    metrics = daemon.metrics()
    assert metrics.get(f"{LATENCY}_bucket", le="0.5") == 0
    assert metrics.sum(f"{LATENCY}_sum") >= (before + 2) * QUIET_S
    assert daemon.stop() == 0
