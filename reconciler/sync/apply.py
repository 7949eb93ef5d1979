"""Applying a plan: Nomad plan annotations, registers with EnforceIndex, prunes, promotions.

I/O only; every decision was taken by ``compute_plan``.  One failing job never
stops the others: each action's errors become that job's ``FAILED`` outcome,
with Nomad's own message and the job's file.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from reconciler.core.actions import ActionKind, JobAction
from reconciler.core.arbiter import compute_arbiter_job, plan_changes_job
from reconciler.core.diff import compute_job_drift
from reconciler.core.ownership import stamp_job, submitted_job
from reconciler.core.policy import SyncPolicy
from reconciler.errors import (
    NomadAPIError,
    NomadError,
    NomadIndexConflictError,
    NomadNotFoundError,
    NomadPermissionDeniedError,
    NomadUnavailableError,
)
from reconciler.jobspec.canonical import strip_server_fields
from reconciler.jobspec.positions import Step, locate
from reconciler.model import DesiredJob
from reconciler.sync.api import NomadApi, Registration
from reconciler.sync.cluster_memory import ClusterMemory
from reconciler.sync.outcome import JobOutcome, Result

OutcomeHook = Callable[[JobOutcome], None]


SubmissionBuilder = Callable[[DesiredJob], dict[str, Any]]


def submission_for(desired: DesiredJob) -> dict[str, Any]:
    """Nomad ≥ 1.6 ``Submission`` without variables: the source as declared."""
    return {"Source": desired.source, "Format": desired.source_format}


_GROUP_FAILED = re.compile(r"Task group (\S+) validation failed")
_TASK_FAILED = re.compile(r"Task (\S+) validation failed")


def refused_line(message: str, desired: DesiredJob | None) -> int | None:
    """The line of the part Nomad's validation message blames (group, task), else the job's."""
    if desired is None or not desired.source:
        return None
    steps = [Step("job", desired.job_id)]
    group = _GROUP_FAILED.search(message)
    if group:
        steps.append(Step("group", group.group(1)))
        task = _TASK_FAILED.search(message, group.end())
        if task:
            steps.append(Step("task", task.group(1)))
    try:
        return locate(desired.source, steps, source_format=desired.source_format)
    except Exception:  # a position is a nicety: never let it hide Nomad's message
        return None


def describe_error(exc: NomadError, action: JobAction) -> str:
    where = action.path or f"{action.key[0]}/{action.key[1]}"
    if isinstance(exc, NomadAPIError) and not isinstance(exc, NomadPermissionDeniedError):
        line = refused_line(exc.message, action.desired)
        if line is not None:
            where += f":{line}"
    if isinstance(exc, NomadPermissionDeniedError):
        need = {
            ActionKind.REGISTER: "submit-job",
            ActionKind.DEREGISTER: "submit-job (or deregister-job/purge-job)",
            ActionKind.PROMOTE: "submit-job (or promote-deployment)",
        }.get(action.kind, "read-job")
        return (
            f"{where}: Nomad refused the token ({exc.message}); it needs the {need} "
            f"capability in namespace {action.key[0]!r}"
        )
    if isinstance(exc, NomadUnavailableError):
        return f"{where}: could not reach Nomad for job {action.key[1]!r}: {exc.message.strip()}"
    return f"{where}: Nomad refused job {action.key[1]!r}: {exc.message.strip()}"


class Applier:
    """Runs the actions of a plan against Nomad for one pass."""

    def __init__(
        self,
        api: NomadApi,
        policy: SyncPolicy,
        *,
        memory: ClusterMemory,
        submission: SubmissionBuilder | None,
        annotate: bool = True,
    ) -> None:
        self._api = api
        self._policy = policy
        self._memory = memory
        self._submission = submission
        self._annotate = annotate

    async def annotate(
        self, action: JobAction
    ) -> tuple[Mapping[str, Mapping[str, int]] | None, str]:
        """Nomad's own plan for a register: per-group annotations and warnings."""
        if action.desired is None:
            return None, ""
        if action.live is not None and action.live.nomad_plan is not None:
            plan = action.live.nomad_plan  # the arbiter's answer, same job
        else:
            plan = await self._api.plan_job(submitted_job(action.desired))
        warnings = plan.warnings
        if plan.failed_groups:
            groups = ", ".join(plan.failed_groups)
            warnings = (warnings + "\n" if warnings else "") + f"cannot place group(s): {groups}"
        return plan.annotations, warnings

    async def run(self, action: JobAction) -> JobOutcome:
        try:
            if action.kind is ActionKind.REGISTER:
                return await self._register(action)
            if action.kind is ActionKind.DEREGISTER:
                return await self._deregister(action)
            if action.kind is ActionKind.PROMOTE:
                return await self._promote(action)
        except NomadError as exc:
            return JobOutcome(
                action.key, action, Result.FAILED, describe_error(exc, action), error=exc
            )
        if action.kind is ActionKind.HOLD:
            return JobOutcome(action.key, action, Result.HELD, action.reason)
        return JobOutcome(action.key, action, Result.UNCHANGED, action.reason)

    async def _register(self, action: JobAction) -> JobOutcome:
        desired = action.desired
        assert desired is not None
        annotations, warnings = (None, "")
        if self._annotate:
            annotations, warnings = await self.annotate(action)
        index = 0 if action.create else action.enforce_index
        retried = False
        for attempt in (1, 2):
            try:
                resp = await self._api.register_job(Registration(
                    submitted_job(desired),
                    enforce_index=index,
                    preserve_counts=not action.create and self._preserve(desired),
                    submission=self._submission(desired) if self._submission else None,
                ))
                accepted_at = time.monotonic()
                break
            except NomadIndexConflictError as exc:
                if attempt == 2:
                    msg = (
                        f"{desired.path}: job {desired.job_id!r} changed in Nomad while syncing "
                        f"(twice); not overwritten: {exc.message.strip()}"
                    )
                    return JobOutcome(
                        action.key, action, Result.FAILED, msg, annotations, warnings,
                        conflict_retried=True, error=exc,
                    )  # fmt: skip
                retried = True
                refreshed = await self._replan(action)
                if refreshed is None:
                    return JobOutcome(
                        action.key, action, Result.UNCHANGED,
                        "changed concurrently and now matches the file", annotations,
                        conflict_retried=True,
                    )  # fmt: skip
                index = refreshed
        jmi = resp.job_modify_index
        self._memory.remember_submit(action.key, desired.digest, jmi)
        if jmi:
            synced = stamp_job(desired.canonical, source=desired.path, digest=desired.digest)
            self._memory.remember_synced(action.key, jmi, desired.digest, synced)
        else:
            self._memory.forget(action.key)
        # What the accepted write did: after a conflict a create may have become an
        # update of the job someone else created (never report the refused create).
        created = index == 0 if retried else action.create
        return JobOutcome(
            action.key, action, Result.CREATED if created else Result.UPDATED,
            action.reason, annotations, resp.warnings or warnings,
            eval_id=resp.eval_id, job_modify_index=jmi,
            conflict_retried=retried, accepted_at=accepted_at,
        )  # fmt: skip

    async def _replan(self, action: JobAction) -> int | None:
        """After a conflict: re-read the job; None when it is now in sync, else its new index."""
        assert action.desired is not None
        try:
            raw = await self._api.read_job(action.key[1], namespace=action.key[0])
        except NomadNotFoundError:
            return 0  # deleted meanwhile: a create
        drift = compute_job_drift(
            action.desired,
            strip_server_fields(raw),
            preserve_counts=self._policy.preserve_counts,
            server_version=(await self._api.features()).version,
        )
        if not drift.changed:
            return None
        # As in the cluster reader, Nomad's plan has the last word (core/arbiter.py).
        probe = compute_arbiter_job(
            submitted_job(action.desired), raw,
            preserve_counts=self._preserve(action.desired),
        )  # fmt: skip
        if plan_changes_job(await self._api.plan_job(probe)) is False:
            return None
        return int(raw.get("JobModifyIndex") or 0)

    def _preserve(self, desired: DesiredJob) -> bool:
        if self._policy.preserve_counts:
            return True
        return any(g.get("Scaling") for g in desired.canonical.get("TaskGroups") or ())

    async def _deregister(self, action: JobAction) -> JobOutcome:
        resp = await self._api.deregister_job(
            action.key[1], namespace=action.key[0], purge=action.purge
        )
        self._memory.forget(action.key)
        return JobOutcome(
            action.key, action, Result.PRUNED, action.reason,
            eval_id=resp.eval_id,
        )  # fmt: skip

    async def _promote(self, action: JobAction) -> JobOutcome:
        assert action.deployment_id
        await self._api.promote_deployment(action.deployment_id, namespace=action.key[0])
        return JobOutcome(action.key, action, Result.PROMOTED, "canaries promoted")


T = TypeVar("T")
R = TypeVar("R")


async def run_bounded(
    items: Sequence[T], work: Callable[[T], Awaitable[R]], *, limit: int
) -> list[R]:
    """Run ``work`` over ``items`` with at most ``limit`` at a time (0: no limit), results in order."""
    semaphore = asyncio.Semaphore(limit if limit > 0 else max(len(items), 1))

    async def one(item: T) -> R:
        async with semaphore:
            return await work(item)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(item)) for item in items]
    return [t.result() for t in tasks]


def annotation_text(annotations: Mapping[str, Mapping[str, int]] | None) -> dict[str, str]:
    """Per group, Nomad's plan counts as ``nomad job plan`` prints them."""
    names = {
        "Place": "create",
        "Stop": "destroy",
        "InPlaceUpdate": "in-place update",
        "DestructiveUpdate": "create/destroy update",
        "Canary": "canary",
        "Migrate": "migrate",
        "Ignore": "ignore",
    }
    out: dict[str, str] = {}
    for group, counts in (annotations or {}).items():
        parts = [f"{counts[k]} {label}" for k, label in names.items() if counts.get(k)]
        out[group] = ", ".join(parts)
    return out
