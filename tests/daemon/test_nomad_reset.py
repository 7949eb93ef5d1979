"""Nomad restarting without its state, with the daemon as a real subprocess.

A dev agent (or one that lost its data dir) comes back counting from index 1.
The daemon's event-stream cursor must follow the new history rather than drop
every frame below the old index (which left it blind until the periodic
resync), and it must forget the JobModifyIndexes it learnt from the old one.
"""

from __future__ import annotations

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def running(fake: FakeNomad, job_id: str) -> bool:
    job = fake.read_job(job_id)
    return job is not None and not job["Stop"]


def test_after_nomad_restarts_empty_a_job_stop_is_healed_via_the_stream(repo, start_daemon) -> None:
    repo.write("web.nomad", job_hcl("web"))
    repo.commit()
    first = FakeNomad().start()
    try:
        port = int(first.address.rsplit(":", 1)[1])
        daemon = start_daemon(repo.root, first.address)  # the resync stays at its 5 minutes
        wait_until(lambda: running(first, "web"), what="web created")
        daemon.wait_ready()
        daemon.wait_metric("nomad_reconciler_event_stream_connected", lambda v: v == 1)
        # Push the old history's index well above what the new one will reach.
        other = {**(first.read_job("web") or {}), "ID": "other", "Name": "other", "Meta": None}
        for count in range(2, 62):
            other["TaskGroups"][0]["Count"] = count
            first.run_job_out_of_band(other)
        old_index = first.state.index
    finally:
        first.stop()

    with FakeNomad(port=port) as second:  # same address, empty state
        wait_until(
            lambda: running(second, "web"), timeout=30, what="web re-created in the new Nomad"
        )
        # The reconnection's own full pass may heal a first stop; the next one can only
        # be healed through the event stream (the resync timer is minutes away).
        for attempt in (1, 2):
            daemon.wait_metric("nomad_reconciler_event_stream_connected", lambda v: v == 1)
            httpx.delete(f"{second.address}/v1/job/web", timeout=5).raise_for_status()
            assert not running(second, "web")
            wait_until(
                lambda: running(second, "web"),
                timeout=10,
                what=f"web restarted after stop {attempt}",
            )
        assert second.state.index < old_index
        assert daemon.logs("Nomad's state was reset (its index went backwards); full resync")
        daemon.stop()
