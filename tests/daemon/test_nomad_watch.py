"""Nomad-side triggers: which events are news (pure tables)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.daemon.nomad_watch import (
    DeploymentChange,
    JobChange,
    changed_keys,
    deployment_change_of,
    job_change_of,
)
from reconciler.nomad.events import Event

DECLARED = {("default", "web")}


def relevant(key: tuple[str, str], job: Any) -> bool:
    owned = bool(job and (job.get("Meta") or {}).get("gitops.source"))
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
    return Event(topic="Job", type=type_, key=job_id, namespace=namespace, index=index,
                 payload={"Job": job})


@pytest.mark.parametrize(
    ("event", "known", "expected"),
    [
        # an out-of-band registration of a declared job: news, timed by SubmitTime
        (job_event(index=12), 10, JobChange(("default", "web"), 1_700_000_000.0)),
        # our own write (index already known in sync) or an older frame: not news
        (job_event(index=10), 10, None),
        (job_event(index=9), 10, None),
        # a stop/purge is always news
        (job_event(index=10, type_="JobDeregistered"), 10,
         JobChange(("default", "web"), 1_700_000_000.0, deleted=True)),
        # unknown index: news; no SubmitTime: timed now
        (job_event(index=3, submit_ns=None), None, JobChange(("default", "web"), 99.0)),
        # a job nobody declared and we do not own: never touched
        (job_event("adhoc", index=50), None, None),
        # an owned job (stamped) that is no longer declared: news (it may be pruned)
        (job_event("old", index=50, meta={"gitops.source": "old.nomad"}), None,
         JobChange(("default", "old"), 1_700_000_000.0)),
    ],
)
def test_job_change_of(event: Event, known: int | None, expected: JobChange | None) -> None:
    got = job_change_of(event, relevant=relevant, known_index=lambda k: known, now=99.0)
    assert got == expected


def test_deployment_change_of() -> None:
    dep = {"ID": "d1", "JobID": "web", "Namespace": "default", "Status": "running"}
    event = Event(topic="Deployment", type="DeploymentStatusUpdate", key="d1",
                  namespace="default", index=5, payload={"Deployment": dep})
    assert deployment_change_of(event, relevant=relevant) == DeploymentChange(
        ("default", "web"), dep)
    other = Event(topic="Deployment", type="PlanResult", key="d2", namespace="default",
                  index=6, payload={"Deployment": {**dep, "JobID": "adhoc"}})
    assert deployment_change_of(other, relevant=relevant) is None
    assert deployment_change_of(job_event(), relevant=relevant) is None


def test_changed_keys() -> None:
    a, b, c = ("default", "a"), ("default", "b"), ("ops", "c")
    assert changed_keys({a: 1, b: 2}, {a: 1, b: 3, c: 1}) == {b, c}
    assert changed_keys({a: 1, b: 2}, {a: 1}) == {b}
    assert changed_keys({a: 1}, {a: 1}) == set()
