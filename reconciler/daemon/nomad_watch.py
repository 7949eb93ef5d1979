"""Nomad-side triggers: the event stream (Job, Deployment, Evaluation topics), or blocking queries.

Responsible for turning what Nomad says into two signals for the loop: "this
job changed in Nomad" and "this job's deployment changed", plus the
connection state.  It decides nothing about what to do: the loop re-reads
and converges.  The filters (``job_change_of``, ``deregistration_of``,
``deployment_change_of``, ``changed_keys``) are pure; ``NomadWatch.run`` is
the I/O loop.

The Evaluation topic is there for purges: real Nomad 1.0.18 publishes no Job
event for ``DELETE /v1/job/:id?purge=true``, only the ``job-deregister``
evaluation (tests/golden/api/07-event-stream.ndjson).

Without an event stream (Nomad < 1.0, a token without the topics, or
``--no-event-stream``), blocking queries on ``GET /v1/jobs`` stand in: every
``JobModifyIndex`` that moved marks its job changed.

An index that goes backwards (the agent restarted without its state) is
reported as ``on_index_reset``: the loop forgets the indexes it learnt and
runs a full pass, since events are filtered against those indexes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from reconciler.deployment import Deployment
from reconciler.errors import NomadAPIError, NomadError, NomadUnavailableError
from reconciler.model import JobKey
from reconciler.nomad.client import NomadClient
from reconciler.nomad.events import Event
from reconciler.nomad.objects import EventJob

log = logging.getLogger("reconciler.daemon")

TOPICS = {"Job": ["*"], "Deployment": ["*"], "Evaluation": ["*"]}
BLOCKING_WAIT_S = 300.0  # Nomad caps a blocking query at 5 minutes anyway
RETRY_MAX_S = 30.0


@dataclass(frozen=True)
class JobChange:
    key: JobKey
    # Unix time Nomad told us of the change.  Not the job's SubmitTime: Nomad sets that
    # only on registration, so a ``job scale``, a stop or a revert keeps the time of an
    # older registration (tests/golden/api/13-scale-drift.jsonl) and the drift would
    # look as old as that.
    changed_at: float
    deleted: bool = False


@dataclass(frozen=True)
class DeploymentChange:
    key: JobKey
    deployment: Deployment  # the whole deployment, as the event carries it (parsed)


# Is a job ours?  Given its key and, from a Job event, the job it carries.
Relevant = Callable[[JobKey, EventJob | None], bool]
KnownIndex = Callable[[JobKey], int | None]


def job_change_of(
    event: Event, *, relevant: Relevant, known_index: KnownIndex, now: float
) -> JobChange | None:
    """Pure: the job change a Job-topic event reports, or None when it is not news.

    Not news: jobs the reconciler neither declares nor owns, and events at or
    below the ``JobModifyIndex`` already known in sync (our own writes, status
    updates, stale frames).  A deregistration is always news.
    """
    if event.topic != "Job":
        return None
    job = event.job  # parsed with the frame (``nomad/events.py``)
    key: JobKey = (event.namespace or (job.namespace if job else "") or "default", event.key)
    if not relevant(key, job):
        return None
    deleted = event.type == "JobDeregistered"
    index = job.job_modify_index if job else 0
    known = known_index(key)
    if not deleted and index and known is not None and index <= known:
        return None
    return JobChange(key, now, deleted)


def deregistration_of(event: Event, *, relevant: Relevant, now: float) -> JobChange | None:
    """Pure: the job a ``job-deregister`` evaluation is about (a stop or a purge), or None.

    Only the pending evaluation counts: Nomad publishes the same evaluation again
    as it is planned and completed, and one wake-up per deregistration is enough.
    """
    if event.topic != "Evaluation":
        return None
    ev = event.evaluation or {}  # parsed with the frame (``nomad/events.py``)
    if ev.get("TriggeredBy") != "job-deregister" or ev.get("Status") != "pending":
        return None
    job_id = str(ev.get("JobID") or "")
    key: JobKey = (str(ev.get("Namespace") or event.namespace or "default"), job_id)
    if not job_id or not relevant(key, None):
        return None
    created = ev.get("CreateTime")  # the evaluation is created by the stop itself
    at = created / 1e9 if isinstance(created, int) and created > 0 else now
    return JobChange(key, at, deleted=True)


def deployment_change_of(event: Event, *, relevant: Relevant) -> DeploymentChange | None:
    """Pure: the deployment a Deployment-topic event carries, for jobs we care about."""
    dep = event.deployment  # parsed with the frame (``nomad/events.py``)
    if event.topic != "Deployment" or dep is None:
        return None
    key: JobKey = (dep.namespace, dep.job_id)
    if not key[1] or not relevant(key, None):
        return None
    return DeploymentChange(key, dep)


def changed_keys(previous: Mapping[JobKey, int], current: Mapping[JobKey, int]) -> set[JobKey]:
    """Pure: jobs whose ``JobModifyIndex`` moved, appeared or disappeared between two lists."""
    return {k for k in previous.keys() | current.keys() if previous.get(k) != current.get(k)}


class WatchListener(Protocol):
    def is_relevant(self, key: JobKey, job: EventJob | None) -> bool: ...

    def known_index(self, key: JobKey) -> int | None: ...

    def on_job_changed(self, change: JobChange) -> None: ...

    def on_deployment(self, change: DeploymentChange) -> None: ...

    def on_connection(self, connected: bool, *, reconnect: bool) -> None: ...

    def on_unavailable(self, exc: NomadUnavailableError) -> None: ...

    def on_available(self) -> None: ...

    def on_index_reset(self) -> None: ...


class NomadWatch:
    """Follows Nomad for the loop; ``run()`` until cancelled."""

    def __init__(
        self,
        client: NomadClient,
        listener: WatchListener,
        *,
        event_stream: bool = True,
        start_index: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.client = client
        self.listener = listener
        self.event_stream = event_stream
        # Where the stream starts: the index the daemon's first full pass read (its job
        # list), so nothing changed between that pass and the subscription is lost.
        # Without it: the cluster's index when subscribing.
        self.start_index = start_index

    async def run(self) -> None:
        if self.event_stream:
            try:
                await self._follow_stream()
            except NomadError as exc:
                log.warning("Nomad event stream unavailable; using blocking queries",
                            extra={"fields": {"error": str(exc)}})
        await self._poll_job_list()

    async def _follow_stream(self) -> None:
        first = True

        def on_connection(connected: bool) -> None:
            nonlocal first
            # After a drop, events may have been missed (Nomad buffers ~100 frames).
            self.listener.on_connection(connected, reconnect=connected and not first)
            if connected:
                first = False

        lst = self.listener
        start = await self.start_index() if self.start_index else await self._current_index()
        try:
            async for event in self.client.events(
                topics=TOPICS,
                index=start + 1,
                namespace="*",
                on_connection=on_connection,
                on_reset=lambda _old, _new: lst.on_index_reset(),
            ):
                now = time.time()
                change = job_change_of(
                    event, relevant=lst.is_relevant, known_index=lst.known_index, now=now
                ) or deregistration_of(event, relevant=lst.is_relevant, now=now)
                if change is not None:
                    lst.on_job_changed(change)
                    continue
                deployment = deployment_change_of(event, relevant=lst.is_relevant)
                if deployment is not None:
                    lst.on_deployment(deployment)
        finally:
            lst.on_connection(False, reconnect=False)

    async def _current_index(self) -> int:
        """Where the stream starts without ``start_index``: the cluster's index now.

        Without an index Nomad replays every frame its buffer still holds
        (nomad/stream/event_broker.go, v1.0.18): deployments that ended long
        ago would be reported as news.  The daemon passes ``start_index`` (its
        first pass's list): a change between that pass and this read would
        otherwise wait for the periodic full pass.
        """
        delay = 1.0
        while True:
            try:
                return await self.client.current_index()
            except NomadAPIError as exc:
                # A token that may read the stream but not list: start where Nomad starts.
                log.debug("cannot read the cluster's index; the stream starts at Nomad's",
                          extra={"fields": {"error": str(exc)}})
                return 0
            except NomadUnavailableError as exc:
                self.listener.on_unavailable(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _poll_job_list(self) -> None:
        index = 0
        seen: dict[JobKey, int] = {}
        # The first list is the baseline; what moved in it since the start-up pass listed
        # (``start_index``) is news too, or it would wait for the periodic full pass.
        since = await self.start_index() if self.start_index else None
        delay = 1.0
        while True:
            try:
                result = await self.client.list_jobs(
                    namespace="*", index=index or None, wait=BLOCKING_WAIT_S if index else None
                )
            except NomadError as exc:
                if isinstance(exc, NomadUnavailableError):
                    self.listener.on_unavailable(exc)
                else:  # e.g. a token that may not list jobs: keep trying, slowly
                    log.error("cannot watch the job list", extra={"fields": {"error": str(exc)}})
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = 1.0
            self.listener.on_available()
            if index and result.index < index:
                # Nomad lost its state and counts again from 1: every index is stale.
                log.warning(
                    "Nomad's index went backwards; its state was reset",
                    extra={"fields": {"index": result.index, "previous": index}},
                )
                self.listener.on_index_reset()
            current = {
                (str(s.get("Namespace") or "default"), str(s.get("ID"))): int(
                    s.get("JobModifyIndex") or 0)
                for s in result.value
            }  # fmt: skip
            if index or since is not None:
                now = time.time()
                moved = changed_keys(seen, current) if index else {
                    k for k, jmi in current.items() if since is not None and jmi > since}
                for key in moved:
                    known = self.listener.known_index(key)
                    if self.listener.is_relevant(key, None) and known != current.get(key):
                        self.listener.on_job_changed(JobChange(key, now, key not in current))
            seen = current
            index = max(result.index, 1)
