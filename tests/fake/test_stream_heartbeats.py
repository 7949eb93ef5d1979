"""The fake's event stream timing and Job events as Nomad 1.0.18 writes them:
a ``{}`` heartbeat at once and then on a fixed 30 s ticker that events never
restart (nomad/stream/ndjson.go, nomad/event_endpoint.go), and a Job event in
a plan's frame only when the plan changed the job."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import httpx

from reconciler.testing.fake_nomad import FakeNomad, ManualClock
from reconciler.testing.fake_nomad.events import Subscription


def _job(job_id: str, *, count: int = 2) -> dict[str, Any]:
    return {"Job": {
        "ID": job_id, "Name": job_id, "Type": "service", "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "app", "Count": count, "Tasks": [
            {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/sleep", "args": ["1"]}},
        ]}],
    }}


def test_the_default_heartbeat_is_nomads_30_seconds() -> None:
    assert FakeNomad().heartbeat_s == 30.0


def test_heartbeats_keep_their_tick_while_events_flow() -> None:
    """Events more frequent than the heartbeat period do not postpone it: a
    heartbeat restarted by each event would never come here."""
    stop = threading.Event()
    with FakeNomad(heartbeat_s=0.5) as fake, httpx.Client(base_url=fake.address, timeout=10) as client:

        def produce() -> None:
            n = 0
            while not stop.wait(0.1):
                fake.run_job_out_of_band(_job(f"busy-{n % 5}", count=1 + n % 3)["Job"])
                n += 1

        producer = threading.Thread(target=produce, daemon=True)
        kinds: list[str] = []
        try:
            with client.stream("GET", "/v1/event/stream", params={"topic": "Job"}) as resp:
                producer.start()
                deadline = time.monotonic() + 10
                for line in resp.iter_lines():
                    if not line:
                        continue
                    kinds.append("beat" if line == "{}" else "frame")
                    if kinds.count("beat") >= 3 or time.monotonic() > deadline:
                        break
        finally:
            stop.set()
            producer.join(timeout=5)
    assert kinds[0] == "beat", "a subscription starts with a heartbeat"
    beats = [i for i, kind in enumerate(kinds) if kind == "beat"]
    assert len(beats) >= 3, kinds
    # Frames kept coming in each interval, and the heartbeat came all the same.
    assert all(later - earlier > 1 for earlier, later in itertools.pairwise(beats[:3])), kinds


def test_a_plan_writes_a_job_event_only_when_the_job_changed() -> None:
    clock = ManualClock()
    with FakeNomad(clock=clock) as fake:
        fake.run_job_out_of_band(_job("web")["Job"])
        sub = fake.broker.subscribe(Subscription(topics={"Job": {"*"}}, namespace="*", start_index=0))
        fake.broker.next_frames(sub, timeout=0)  # index 0 replays the buffer, as Nomad does
        fake.tick()  # the placements: the job goes from pending to running
        first = [(e["Type"], e["Payload"]["Job"]["Status"]) for f in fake.broker.next_frames(sub, timeout=1) for e in f.events]
        assert first == [("PlanResult", "running")]
        # A new version placed while the job is already running: the plan leaves the job alone.
        fake.run_job_out_of_band(_job("web", count=3)["Job"])
        fake.tick()
        second = [e["Type"] for f in fake.broker.next_frames(sub, timeout=1) for e in f.events]
        assert second == ["JobRegistered"]
        allocs = httpx.get(f"{fake.address}/v1/job/web/allocations").json()
        assert len(allocs) == 3 and {a["JobVersion"] for a in allocs} == {1}
