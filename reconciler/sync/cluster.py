"""Reading the cluster for one pass: ``ClusterState`` from as few requests as possible.

One list call (``GET /v1/jobs?namespace=*``, with ``meta=true`` where the
server supports it) gives every job's ``JobModifyIndex``.  A full job is read
only when nothing vouches for it:

- per-process memory: the reader remembers, per job, the ``JobModifyIndex`` it
  last saw and the digest that was in sync at that index (the daemon's case);
- a trusted stamp: where the list carries ``Meta`` and the job's stamped
  digest equals the file's, the job was submitted from this very spec (a
  fresh one-shot sync).  ``refresh=True`` ignores stamps and memory.

When the local diff says a job differs, Nomad's own plan decides
(``core.arbiter``): a job is drifted only when Nomad says the file would
change it.  The verdict is remembered for (job, ``JobModifyIndex``, digest),
so Nomad is asked again only when one of them moves.  A job this process
registered from the same digest that Nomad still reports as changed, with
no write by anyone since, is not converging: it is marked so, never re-sent.

The latest deployment is read only for jobs that will need a decision about a
rollout (drifted jobs, and in-sync jobs that may be promoted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from reconciler.core.arbiter import (
    changed_field_paths,
    compute_arbiter_job,
    nomad_diff_fields,
    plan_changes_job,
)
from reconciler.core.diff import JobDrift, compute_job_drift
from reconciler.core.ownership import read_ownership, submitted_job
from reconciler.core.plan import ClusterState, LiveJob, SyncPolicy, promotion_allowed
from reconciler.deployment import Deployment
from reconciler.errors import NomadError, NomadNotFoundError, NomadPermissionDeniedError
from reconciler.job_plan import JobPlan
from reconciler.jobspec.canonical import strip_server_fields
from reconciler.model import ApiJob, DesiredJob, JobKey, Snapshot
from reconciler.nomad.objects import JobStub
from reconciler.sync.api import NomadApi
from reconciler.sync.cluster_memory import ClusterMemory, MismatchHook, Seen, Verdict
from reconciler.sync.failed_rollouts import failed_rollout, replaced_unstable_versions

# The engine imports the memory from here.
__all__ = ["ClusterMemory", "ClusterReader", "MismatchHook", "counts_plausible", "with_namespace"]

log = logging.getLogger("reconciler.sync")

PREFIX_LIST_MAX = 8
"""Up to this many jobs in a pass, list them by prefix instead of listing the cluster."""

# Reads run concurrently, but bounded: a thousand parallel requests would only queue.
READ_CONCURRENCY = 16


class ClusterReader:
    """Builds ``ClusterState`` for a snapshot; owns the per-process memory."""

    def __init__(
        self,
        client: NomadApi,
        *,
        memory: ClusterMemory | None = None,
        on_mismatch: MismatchHook | None = None,
    ) -> None:
        self._client = client
        self.memory = memory or ClusterMemory()
        self.on_mismatch = on_mismatch
        self._server_version: tuple[int, int, int] | None = None

    async def read(
        self,
        snapshot: Snapshot,
        policy: SyncPolicy,
        *,
        only: set[JobKey] | None = None,
        refresh: bool = False,
        with_deployments: bool = False,
    ) -> ClusterState:
        features = await self._client.features()
        # The local diff fills in the defaults of the connected server's release.
        self._server_version = features.version
        # One list for every namespace; with a namespace filter, one list per
        # namespace, so a token scoped to those namespaces suffices.
        stubs = await self._list_jobs(policy, only, meta=features.list_meta)
        declared = snapshot.by_key()
        semaphore = asyncio.Semaphore(READ_CONCURRENCY)
        tasks: dict[JobKey, asyncio.Task[LiveJob | None]] = {}
        async with asyncio.TaskGroup() as group:
            for stub in stubs:
                if stub.get("ParentID"):
                    continue  # periodic/dispatch children belong to their parent
                key: JobKey = (str(stub.get("Namespace") or "default"), str(stub["ID"]))
                if policy.namespaces is not None and key[0] not in policy.namespaces:
                    continue
                if only is not None and key not in only:
                    continue
                read = self._read_live_job(
                    stub, declared.get(key), policy, semaphore,
                    list_meta=features.list_meta, refresh=refresh,
                    with_deployment=with_deployments,
                )  # fmt: skip
                tasks[key] = group.create_task(_or_read_error(stub, read))
        jobs = {k: t.result() for k, t in tasks.items()}
        return ClusterState(
            jobs={k: v for k, v in jobs.items() if v is not None},
            server_version=".".join(str(p) for p in features.version),
            namespaces=policy.namespaces,
            version=features.version,
        )

    async def _list_jobs(
        self, policy: SyncPolicy, only: set[JobKey] | None, *, meta: bool
    ) -> list[JobStub]:
        """The job list; for a pass about a few jobs (``only``), those jobs by prefix.

        A one-job pass (a saved file, an event) would otherwise list every job of
        the cluster: thousands of stubs to fetch and decode for one answer.
        """
        stubs: list[JobStub] = []
        if only is not None and len(only) <= PREFIX_LIST_MAX and not policy.namespaces:
            for namespace, job_id in sorted(only):
                listed = await self._client.list_jobs(namespace=namespace, meta=meta, prefix=job_id)
                stubs.extend(with_namespace(s, namespace) for s in listed if s.get("ID") == job_id)
            return stubs
        for namespace in sorted(policy.namespaces) if policy.namespaces else ["*"]:
            listed = await self._client.list_jobs(namespace=namespace, meta=meta)
            stubs.extend(with_namespace(stub, namespace) for stub in listed)
        return stubs

    async def _read_live_job(
        self,
        stub: JobStub,
        desired: DesiredJob | None,
        policy: SyncPolicy,
        semaphore: asyncio.Semaphore,
        *,
        list_meta: bool,
        refresh: bool,
        with_deployment: bool,
    ) -> LiveJob | None:
        key: JobKey = (str(stub.get("Namespace") or "default"), str(stub["ID"]))
        jmi = int(stub.get("JobModifyIndex") or 0)
        stop = bool(stub.get("Stop"))
        seen = self.memory.jobs.get(key)
        not_converging: tuple[str, ...] = ()
        nomad_plan: JobPlan | None = None
        meta = (
            stub.get("Meta")
            if list_meta
            else (seen.meta if seen and seen.job_modify_index == jmi else None)
        )

        known: str | None = None
        job: ApiJob | None = None
        version: int | None = None
        if not refresh and seen is not None and seen.job_modify_index == jmi:
            known, job, version = seen.digest, seen.job, seen.version
        # The stamp vouches only for a job this process knows nothing of (a fresh
        # one-shot run).  Where it saw another index, the job changed since: a hand
        # `job scale` or `job run` keeps the stamp, and the list's allocation summary
        # may not show the new count yet.  Read it; one request per changed job.
        if not refresh and known is None and list_meta and desired is not None and seen is None:
            own = read_ownership(meta)
            if (
                own is not None
                and own.digest == desired.digest
                and not stop
                and counts_plausible(stub, desired, preserve_counts=policy.preserve_counts)
            ):
                known = desired.digest
        needs_read = job is None and (
            refresh
            or (desired is None and not list_meta and meta is None)  # ownership unknown
            or (desired is not None and known != desired.digest)
        )
        if needs_read:
            async with semaphore:
                try:
                    raw = await self._client.read_job(key[1], namespace=key[0])
                except NomadNotFoundError:
                    return None  # deleted between list and read
            raw_version = raw.get("Version")
            version = raw_version if isinstance(raw_version, int) else None
            job = strip_server_fields(raw)
            jmi = int(raw.get("JobModifyIndex") or jmi)
            stop = bool(raw.get("Stop"))
        if job is not None:
            meta = job.get("Meta")
        drifted = False
        vouched = desired is not None and known == desired.digest and not stop
        if desired is not None and job is not None and not vouched:
            drift = compute_job_drift(
                desired,
                job,
                preserve_counts=policy.preserve_counts,
                server_version=self._server_version,
            )
            drifted = drift.changed
            if drifted and not stop:
                verdict = await self._arbitrate(key, jmi, desired, job, drift, policy, semaphore)
                if verdict is not None and not verdict.changed:
                    drifted = False
                elif verdict is not None:
                    nomad_plan = verdict.answer
                    if self.memory.submitted.get(key) == (desired.digest, jmi):
                        # Our own register of this very digest is the last write, and
                        # Nomad still says it differs: sending it again cannot help.
                        not_converging = verdict.fields or changed_field_paths(drift.changes)
            known = None if drifted else desired.digest
            vouched = not drifted
        self.memory.jobs[key] = Seen(jmi, known, job, meta, version)

        deployment = None
        failed_digest: str | None = None
        failed_deployment: Deployment | None = None
        promotable = desired is not None and promotion_allowed(desired, policy)
        if with_deployment or drifted or (promotable and not stop):
            async with semaphore:
                deployment = await self._client.read_latest_deployment(key[1], namespace=key[0])
            # At an index this process already saw in sync with an earlier file, no
            # rollback can have happened since: a plain new commit, no history needed.
            plain_update = seen is not None and seen.job_modify_index == jmi and bool(seen.digest)
            if drifted and not plain_update:
                failed_digest, failed_deployment = await self._failed_digest(
                    key, deployment, semaphore, policy
                )
        return LiveJob(
            key=key, job_modify_index=jmi, stop=stop, status=str(stub.get("Status", "")), meta=meta,
            # a vouched-for job needs no diff: the planner takes known_digest instead
            job=None if vouched and not refresh else job, known_digest=known,
            deployment=deployment, failed_digest=failed_digest,
            failed_deployment=failed_deployment,
            version=version, not_converging=not_converging, nomad_plan=nomad_plan,
        )  # fmt: skip

    async def _arbitrate(
        self,
        key: JobKey,
        jmi: int,
        desired: DesiredJob,
        live_job: ApiJob,
        drift: JobDrift,
        policy: SyncPolicy,
        semaphore: asyncio.Semaphore,
    ) -> Verdict | None:
        """Nomad's verdict on a job the local diff flags; None when Nomad cannot say.

        A token without the plan capability (``submit-job``) keeps the local
        verdict: it could not write either.  Any other error propagates and
        makes this job unreadable for the pass, so a flaky plan never turns a
        local false positive into a write.
        """
        remembered = self.memory.verdicts.get(key)
        if (
            remembered is not None
            and remembered.job_modify_index == jmi
            and remembered.digest == desired.digest
        ):
            return remembered
        probe = compute_arbiter_job(
            submitted_job(desired), live_job,
            preserve_counts=policy.preserve_counts,
        )  # fmt: skip
        try:
            async with semaphore:
                answer = await self._client.plan_job(probe)
        except NomadPermissionDeniedError:
            return None
        changed = plan_changes_job(answer)
        if changed is None:
            return None
        fields = nomad_diff_fields(answer.diff)
        verdict = Verdict(jmi, desired.digest, changed, fields, answer)
        self.memory.verdicts[key] = verdict
        if not changed:
            fields = changed_field_paths(drift.changes)
            log.debug(
                "Nomad's plan finds %s/%s unchanged; the local diff flagged %s",
                key[0], key[1], ", ".join(fields) or "nothing",
            )  # fmt: skip
            if self.on_mismatch is not None:
                self.on_mismatch(key, fields)
        return verdict

    async def _failed_digest(
        self,
        key: JobKey,
        deployment: Deployment | None,
        semaphore: asyncio.Semaphore,
        policy: SyncPolicy,
    ) -> tuple[str | None, Deployment | None]:
        """The digest of a version whose deployment failed and that Nomad replaced, and
        that failed deployment (not the rollback's, which may have succeeded since).

        Any status of the *latest* deployment counts: the rollback's own
        deployment may still be running, or may already have succeeded, when
        the next pass looks.  What makes a version failed is its own
        deployment's status, never merely that it was replaced before it
        became stable (someone may have changed the job during our rollout).
        """
        if deployment is None:
            return None, None  # no deployment, no auto-revert
        submitted = self.memory.submitted.get(key)
        if (
            submitted is not None
            and deployment.failed
            and deployment.job_spec_modify_index == submitted[1]
        ):
            return submitted[0], deployment
        async with semaphore:
            try:
                versions = await self._client.job_versions(key[1], namespace=key[0])
            except NomadNotFoundError:
                return None, None
        if not replaced_unstable_versions(versions):
            return None, None  # nothing replaced since the last stable version: no request more
        async with semaphore:
            try:
                deployments = await self._client.list_job_deployments(key[1], namespace=key[0])
            except NomadNotFoundError:
                return None, None
        return failed_rollout(versions, deployments)


def with_namespace(stub: JobStub, namespace: str) -> JobStub:
    """A list stub with its namespace: Nomad 1.0.x stubs have none outside ``namespace=*``.

    The namespace is then the one the list was asked for (never a guess of
    ``default``, which would make every job of another namespace "missing").
    """
    out = stub.copy()
    if not out.get("Namespace"):
        out["Namespace"] = namespace if namespace != "*" else "default"
    return out


def counts_plausible(
    stub: JobStub, desired: DesiredJob, *, preserve_counts: bool
) -> bool:
    """False when the list stub's allocation summary contradicts the file's group counts.

    A ``nomad job scale`` keeps the ownership stamp, so a trusted stamp alone
    would miss it; the stub's ``JobSummary`` (queued + starting + running per
    group) reveals it once allocations converge, at no extra request.  Only
    service jobs, only groups whose count the file owns; a mismatch merely
    costs one read of that job.
    """
    if (desired.canonical.get("Type") or "service") != "service" or preserve_counts:
        return True
    summary = (stub.get("JobSummary") or {}).get("Summary") or {}
    for group in desired.canonical.get("TaskGroups") or ():
        if group.get("Scaling") or group.get("Name") not in summary:
            continue
        allocs = summary[group["Name"]]
        live = sum(int(allocs.get(k) or 0) for k in ("Queued", "Starting", "Running"))
        if live != int(group.get("Count") if group.get("Count") is not None else 1):
            return False
    return True


async def _or_read_error(stub: JobStub, read: Awaitable[LiveJob | None]) -> LiveJob | None:
    """One job's live state; a failed read makes it an error of that job only."""
    try:
        return await read
    except NomadError as exc:
        key: JobKey = (str(stub.get("Namespace") or "default"), str(stub["ID"]))
        return LiveJob(
            key=key, job_modify_index=int(stub.get("JobModifyIndex") or 0),
            stop=bool(stub.get("Stop")), status=str(stub.get("Status", "")),
            meta=stub.get("Meta"), read_error=str(exc),
        )  # fmt: skip
