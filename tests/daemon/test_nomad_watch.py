"""Nomad-side triggers: which events are news (pure tables)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from reconciler.config.connection import NomadConfig
from reconciler.daemon.nomad_watch import (
    DeploymentChange,
    JobChange,
    NomadWatch,
    changed_keys,
    deployment_change_of,
    deregistration_of,
    job_change_of,
)
from reconciler.nomad.client import NomadClient
from reconciler.nomad.events import Event, decode_event, decode_frame
from reconciler.nomad.objects import EventJob, parse_deployment
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import minimal_job

DECLARED = {("default", "web")}


def relevant(key: tuple[str, str], job: EventJob | None) -> bool:
    owned = bool(job and (job.meta or {}).get("gitops.source"))
    return key in DECLARED or owned


def job_event(
    job_id: str = "web", *, index: int = 10, type_: str = "JobRegistered",
    submit_ns: int | None = 1_700_000_000_000_000_000, meta: dict[str, str] | None = None,
    namespace: str = "default",
) -> Event:
    job: dict[str, Any] = {"ID": job_id, "Namespace": namespace, "JobModifyIndex": index,
                           "Meta": meta}
    if submit_ns is not None:
        job["SubmitTime"] = submit_ns
    return decode_event({"Topic": "Job", "Type": type_, "Key": job_id, "Namespace": namespace,
                         "Index": index, "Payload": {"Job": job}}, index)


@pytest.mark.parametrize(
    ("event", "known", "expected"),
    [
        # an out-of-band change of a declared job: news, timed when heard of, not by
        # SubmitTime (a `job scale` keeps the SubmitTime of an older registration)
        (job_event(index=12), 10, JobChange(("default", "web"), 99.0)),
        # our own write (index already known in sync) or an older frame: not news
        (job_event(index=10), 10, None),
        (job_event(index=9), 10, None),
        # a stop/purge is always news
        (job_event(index=10, type_="JobDeregistered"), 10,
         JobChange(("default", "web"), 99.0, deleted=True)),
        # unknown index: news
        (job_event(index=3, submit_ns=None), None, JobChange(("default", "web"), 99.0)),
        # a job nobody declared and we do not own: never touched
        (job_event("adhoc", index=50), None, None),
        # an owned job (stamped) that is no longer declared: news (it may be pruned)
        (job_event("old", index=50, meta={"gitops.source": "old.nomad"}), None,
         JobChange(("default", "old"), 99.0)),
    ],
)
def test_job_change_of(event: Event, known: int | None, expected: JobChange | None) -> None:
    got = job_change_of(event, relevant=relevant, known_index=lambda k: known, now=99.0)
    assert got == expected


def test_deployment_change_of() -> None:
    dep = {"ID": "d1", "JobID": "web", "Namespace": "default", "Status": "running"}
    event = Event(topic="Deployment", type="DeploymentStatusUpdate", key="d1",
                  namespace="default", index=5, payload={"Deployment": dep},
                  deployment=parse_deployment(dep))
    assert deployment_change_of(event, relevant=relevant) == DeploymentChange(
        ("default", "web"), parse_deployment(dep))
    adhoc = {**dep, "JobID": "adhoc"}
    other = Event(topic="Deployment", type="PlanResult", key="d2", namespace="default",
                  index=6, payload={"Deployment": adhoc}, deployment=parse_deployment(adhoc))
    assert deployment_change_of(other, relevant=relevant) is None
    assert deployment_change_of(job_event(), relevant=relevant) is None


def test_changed_keys() -> None:
    a, b, c = ("default", "a"), ("default", "b"), ("ops", "c")
    assert changed_keys({a: 1, b: 2}, {a: 1, b: 3, c: 1}) == {b, c}
    assert changed_keys({a: 1, b: 2}, {a: 1}) == {b}
    assert changed_keys({a: 1}, {a: 1}) == set()


GOLDEN_STREAM = Path(__file__).parents[1] / "golden" / "api" / "07-event-stream.ndjson"
RECORDED = ("default", "rec-07-events")


def recorded_events() -> list[Event]:
    """The stream real Nomad 1.0.18 sent while a job was registered, deployed and purged."""
    events: list[Event] = []
    for line in GOLDEN_STREAM.read_bytes().splitlines():
        frame = decode_frame(line) if line.strip() else None
        if frame is not None:
            events.extend(frame.events)
    return events


def eval_event(triggered_by: str, status: str, *, job_id: str = "web") -> Event:
    ev = {"ID": "e1", "Namespace": "default", "JobID": job_id, "TriggeredBy": triggered_by,
          "Status": status, "CreateTime": 1_700_000_000_000_000_000}
    return decode_event({"Topic": "Evaluation", "Type": "JobDeregistered", "Key": "e1",
                         "Namespace": "default", "Index": 7, "Payload": {"Evaluation": ev}}, 7)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (eval_event("job-deregister", "pending"),
         JobChange(("default", "web"), 1_700_000_000.0, deleted=True)),
        (eval_event("job-deregister", "complete"), None),  # the same evaluation, later
        (eval_event("job-register", "pending"), None),  # a Job event covers registers
        (eval_event("job-deregister", "pending", job_id="adhoc"), None),  # not ours
        (job_event(type_="JobDeregistered"), None),  # other topics are not evaluations
    ],
)
def test_deregistration_of(event: Event, expected: JobChange | None) -> None:
    assert deregistration_of(event, relevant=relevant, now=99.0) == expected


class ReplayClient:
    """The slice of NomadClient that NomadWatch streams from, replaying recorded events."""

    def __init__(self, events: list[Event]) -> None:
        self.events_ = events
        self.topics: Mapping[str, Sequence[str]] = {}

    async def current_index(self) -> int:
        return 0  # a stream from the start of the recording

    def events(self, *, topics: Mapping[str, Sequence[str]], index: int, namespace: str,
               on_connection: Any, on_reset: Any = None) -> AsyncIterator[Event]:
        self.topics = topics

        async def replay() -> AsyncIterator[Event]:
            on_connection(True)
            for event in self.events_:
                if event.topic in topics:  # Nomad sends only the subscribed topics
                    yield event

        return replay()


class Recorder:
    def __init__(self) -> None:
        self.changes: list[JobChange] = []

    def is_relevant(self, key: Any, job: Any) -> bool:
        return bool(key == RECORDED)

    def known_index(self, key: Any) -> int | None:
        return 534  # the daemon registered it at 534 and saw it in sync

    def on_job_changed(self, change: JobChange) -> None:
        self.changes.append(change)

    def on_deployment(self, change: DeploymentChange) -> None:
        pass

    def on_connection(self, connected: bool, *, reconnect: bool) -> None:
        pass

    def on_index_reset(self) -> None:
        pass


@pytest.mark.parametrize("fake_job_event", [False, True])
async def test_a_purge_wakes_the_job_on_real_nomads_stream(fake_job_event: bool) -> None:
    """Nomad 1.0.18 publishes only a job-deregister evaluation for a purge: it must wake
    the job.  Whether a Job event comes too (the fake sends one) changes nothing."""
    events = recorded_events()
    assert not [e for e in events if e.topic == "Job" and e.type == "JobDeregistered"]
    if fake_job_event:
        job = {"ID": RECORDED[1], "Namespace": "default", "JobModifyIndex": 542}
        events.append(decode_event({"Topic": "Job", "Type": "JobDeregistered", "Key": RECORDED[1],
                                    "Namespace": "default", "Index": 542,
                                    "Payload": {"Job": job}}, 542))
    client, listener = ReplayClient(events), Recorder()
    await NomadWatch(client, listener)._follow_stream()  # type: ignore[arg-type]
    assert "Evaluation" in client.topics
    assert listener.changes, "the purge was not noticed"
    assert {(c.key, c.deleted) for c in listener.changes} == {(RECORDED, True)}


class Watching(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.deployments: list[DeploymentChange] = []
        self.connected = asyncio.Event()

    def is_relevant(self, key: Any, job: Any) -> bool:
        return True

    def known_index(self, key: Any) -> int | None:
        return None

    def on_deployment(self, change: DeploymentChange) -> None:
        self.deployments.append(change)

    def on_connection(self, connected: bool, *, reconnect: bool) -> None:
        if connected:
            self.connected.set()


async def test_the_stream_starts_now_not_with_nomads_replay_of_its_buffer() -> None:
    """Subscribed without an index, Nomad sends every frame it still buffers: old
    deployments would be reported as news at every start-up."""
    with FakeNomad() as fake:
        fake.run_job_out_of_band(minimal_job("old"))
        fake.wait_for(lambda: (fake.latest_deployment("old") or {}).get("Status") == "successful")
        listener = Watching()
        async with NomadClient(NomadConfig(address=fake.address)) as client:
            watch = asyncio.ensure_future(NomadWatch(client, listener)._follow_stream())
            try:
                await asyncio.wait_for(listener.connected.wait(), 10)
                await asyncio.to_thread(fake.run_job_out_of_band, minimal_job("new"))
                deadline = asyncio.get_running_loop().time() + 10
                while not any(c.key == ("default", "new") for c in listener.changes):
                    assert asyncio.get_running_loop().time() < deadline, "new change not seen"
                    await asyncio.sleep(0.02)
            finally:
                watch.cancel()
                await asyncio.gather(watch, return_exceptions=True)
    heard = {c.key for c in listener.changes} | {d.key for d in listener.deployments}
    assert ("default", "old") not in heard


class NoListClient(ReplayClient):
    """A token that may read the event stream but not list jobs or deployments."""

    async def current_index(self) -> int:
        from reconciler.errors import NomadPermissionDeniedError

        raise NomadPermissionDeniedError("Permission denied", status=403, endpoint="/v1/jobs")


async def test_a_token_that_cannot_list_still_follows_the_stream() -> None:
    client, listener = NoListClient(recorded_events()), Recorder()
    await NomadWatch(client, listener)._follow_stream()  # type: ignore[arg-type]
    assert "Job" in client.topics and listener.changes
