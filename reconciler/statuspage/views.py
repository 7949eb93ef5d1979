"""View models of the status page: pure functions from the daemon's picture to what a page shows.

Responsible for every decision about what a person reads: which state a job
is in (the plan's drift, or the daemon's own hold or error as /metrics shows
it), the reason for a hold and how to release it, filters and search.  How a
deployment's progress is said and the rollout timeline's steps are
``deployment_views``'.  Values in,
frozen values out: no clock (``now`` is passed), no I/O, no HTML (the
templates only lay these out, and escape every string).

States and steps carry their meaning in words, never in colour alone: each
has a ``tone`` (``ok``, ``warn``, ``bad``, ``info``, ``idle``) that the
stylesheet colours, next to a label that says the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from reconciler.core.actions import JobAction, Plan
from reconciler.model import JobKey
from reconciler.observability.job_series import JobStateView
from reconciler.statuspage.deployment_views import DeploymentSummary, summarize_deployment
from reconciler.statuspage.feed import Registration
from reconciler.statuspage.text import format_age, job_url

STATES = ("in_sync", "modified", "missing", "orphaned", "held", "error")

TONES: Mapping[str, str] = {
    "in_sync": "ok",
    "modified": "warn",
    "missing": "warn",
    "orphaned": "warn",
    "held": "bad",
    "error": "bad",
}

# Why a job is held, and what a person does about it (HoldReason values, ordering's reasons).
HOLD_HELP: Mapping[str, tuple[str, str]] = {
    "failed_rollout": (
        "The rollout of this spec failed and Nomad reverted it; the same spec is not "
        "submitted again.",
        "Commit a fixed change to the job's file: a new spec is rolled out at once.",
    ),
    "active_deployment": (
        "A deployment is running, and healing an out-of-band change waits for it to end.",
        "Wait for the deployment to finish, or end it in Nomad "
        "(nomad deployment promote / nomad deployment fail).",
    ),
    "deployment_cap": (
        "Too many deployments run at once (--max-concurrent-deployments).",
        "Nothing to do: it starts when a running deployment ends.",
    ),
    "wave": (
        "A lower wave (Meta gitops.wave) has not finished rolling out.",
        "Nothing to do: it starts when the lower wave's deployments succeed; "
        "fix that wave if its rollout failed.",
    ),
    "guard": (
        "A safety guard refused the change (see the reason).",
        "Fix the checkout (files that fail to load), or wait out --prune-grace; "
        "raise --max-prune only if removing that many jobs is intended.",
    ),
    "not_converging": (
        "Nomad still reports a change right after registering this spec: the file sets "
        "something Nomad rewrites.",
        "Change the file to what Nomad keeps (see the diff); the hold ends when the file changes.",
    ),
}

ERROR_HELP: Mapping[str, str] = {
    "file": "Nomad refused the file: fix it and commit; the same spec is only retried slowly.",
    "cluster": "The cluster caused it (Nomad unavailable, a missing namespace, ACLs): "
               "it is retried with backoff.",
}


# -- jobs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRow:
    namespace: str
    job_id: str
    path: str
    state: str  # one of STATES
    state_label: str  # the state with its detail, e.g. "held (failed rollout)"
    reason: str
    hold_reason: str | None
    version: str
    deployment: DeploymentSummary | None
    last_change: str  # when the daemon last registered it, and from which commit: "3m ago from 1a2b3c4d"
    last_change_commit: str | None
    url: str

    @property
    def key(self) -> JobKey:
        return (self.namespace, self.job_id)

    @property
    def tone(self) -> str:
        if self.state == "in_sync" and self.deployment and self.deployment.phase == "awaiting_promotion":
            return "warn"
        return TONES.get(self.state, "idle")

    @property
    def dom_id(self) -> str:
        """An element id for this row (``job-`` + escaped key: stable across renders)."""
        return "job-" + quote(f"{self.namespace}/{self.job_id}", safe="")


def effective_state(action: JobAction, daemon: JobStateView | None) -> tuple[str, str | None, str | None]:
    """(state, held reason, error cause): the plan's, unless the daemon holds or failed it.

    The daemon knows holds the plan cannot see (its own failed-rollout memory, a
    wave or the deployment cap) and specs Nomad refused; ``/metrics`` says them
    too, so the page and the metrics agree.
    """
    state = action.drift.state.value
    hold = action.hold_reason.value if action.hold_reason is not None else None
    if hold is not None:
        state = "held"
    if daemon is not None and daemon.state in ("held", "error") and state != "in_sync":
        return daemon.state, daemon.held_reason, daemon.error_cause
    return state, hold, None


def job_row(
    action: JobAction,
    *,
    daemon: JobStateView | None,
    registration: Registration | None,
    now: float,
    last_problem: str | None = None,
    daemon_hold: str | None = None,
) -> JobRow:
    """One job's row.  ``last_problem`` is the job's latest warning or error log line: for a
    held or failing job it says more than the plan's reason (Nomad's own words);
    ``daemon_hold`` is the reason the daemon recorded when it held the job's failed spec
    (``analysis: <check> = <value>, wanted <condition>``), which says the most."""
    live = action.live
    state, hold, cause = effective_state(action, daemon)
    deployment = summarize_deployment(
        live.deployment if live is not None else None,
        awaiting_since=daemon.awaiting_since if daemon else None, now=now,
    )  # fmt: skip
    detail = hold or cause
    label = state + (f" ({detail.replace('_', ' ')})" if detail else "")
    if state == "in_sync" and deployment is not None and deployment.phase == "awaiting_promotion":
        label = "in_sync (awaiting promotion)"
    last_change, commit = "-", None
    if registration is not None:
        commit = registration.commit
        last_change = f"{format_age(now - registration.at)} ago" + (
            f" from {commit[:8]}" if commit else "")  # fmt: skip
    reason = action.reason
    if state in ("held", "error") and last_problem:
        reason = last_problem
    if state == "held" and daemon_hold:
        reason = daemon_hold
    return JobRow(
        namespace=action.key[0], job_id=action.key[1], path=action.path or "",
        state=state, state_label=label, reason=reason, hold_reason=hold,
        version=str(live.version) if live is not None and live.version is not None else "-",
        deployment=deployment, last_change=last_change, last_change_commit=commit,
        url=job_url(action.key),
    )  # fmt: skip


@dataclass(frozen=True)
class JobFilter:
    namespace: str = ""
    state: str = ""
    search: str = ""

    @property
    def active(self) -> bool:
        return bool(self.namespace or self.state or self.search)

    def matches(self, row: JobRow) -> bool:
        if self.namespace and row.namespace != self.namespace:
            return False
        if self.state and row.state != self.state:
            return False
        needle = self.search.strip().lower()
        return not needle or needle in row.job_id.lower() or needle in row.path.lower()


def filter_rows(rows: Iterable[JobRow], flt: JobFilter) -> list[JobRow]:
    return [r for r in rows if flt.matches(r)]


# -- the overview ---------------------------------------------------------------------


@dataclass(frozen=True)
class CommitInfo:
    commit: str
    short: str
    author: str
    message: str
    committed_at: float | None  # wall time
    ref: str | None
    dirty: bool


@dataclass(frozen=True)
class DaemonFacts:
    """Daemon-wide facts the plan does not hold."""

    nomad_address: str
    server_version: str
    stream_connected: bool | None  # None: not following the event stream (blocking queries)
    ready: bool
    ready_reason: str
    passes: int
    last_pass_at: float | None
    commit: CommitInfo | None


@dataclass(frozen=True)
class Overview:
    facts: DaemonFacts
    rows: tuple[JobRow, ...]  # after the filter
    total: int  # jobs before the filter
    counts: tuple[tuple[str, int], ...]  # per state, every state listed
    holds: tuple[JobRow, ...]
    namespaces: tuple[str, ...]
    unmanaged: int
    errors: tuple[str, ...]  # load errors, "path:line: message"
    refusals: tuple[str, ...]
    flt: JobFilter
    now: float
    commit_age: str
    last_pass_age: str

    @property
    def stream_label(self) -> str:
        if self.facts.stream_connected is None:
            return "off (blocking queries)"
        return "connected" if self.facts.stream_connected else "disconnected"

    @property
    def stream_tone(self) -> str:
        return {True: "ok", False: "bad"}.get(self.facts.stream_connected, "idle")  # type: ignore[arg-type]


def build_overview(
    plan: Plan,
    *,
    facts: DaemonFacts,
    daemon_states: Mapping[JobKey, JobStateView],
    registrations: Callable[[JobKey], Registration | None],
    flt: JobFilter,
    now: float,
    problems: Callable[[JobKey], str | None] = lambda key: None,
    holds: Mapping[JobKey, str] | None = None,
) -> Overview:
    rows = [
        job_row(a, daemon=daemon_states.get(a.key), registration=registrations(a.key), now=now,
                last_problem=problems(a.key), daemon_hold=(holds or {}).get(a.key))
        for a in sorted(plan.actions, key=lambda a: a.key)
    ]
    counts = dict.fromkeys(STATES, 0)
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    errors = tuple(
        f"{d.path}{':' + str(d.line) if d.line else ''}: {d.message}" for d in plan.errors
    )
    commit = facts.commit
    return Overview(
        facts=facts, rows=tuple(filter_rows(rows, flt)), total=len(rows),
        counts=tuple(counts.items()), holds=tuple(r for r in rows if r.state == "held"),
        namespaces=tuple(sorted({r.namespace for r in rows})), unmanaged=plan.unmanaged,
        errors=errors, refusals=tuple(plan.refusals), flt=flt, now=now,
        commit_age=format_age(now - commit.committed_at)
        if commit and commit.committed_at is not None else "-",
        last_pass_age=format_age(now - facts.last_pass_at) if facts.last_pass_at else "-",
    )  # fmt: skip


# -- a job's page ---------------------------------------------------------------------


@dataclass(frozen=True)
class DiffLine:
    text: str
    kind: str  # add, del, edit, head, note, plain


def classify_diff_lines(lines: Sequence[str]) -> list[DiffLine]:
    """Tag each line ``plan`` printed by its sign, so the page can colour what the sign says."""
    out = []
    for i, line in enumerate(lines):
        body = line.lstrip()
        if i == 0:
            kind = "head"
        elif body.startswith("+/-") or body.startswith("~"):
            kind = "edit"
        elif body.startswith("+"):
            kind = "add"
        elif body.startswith("-"):
            kind = "del"
        elif body.startswith(("note:", "warning:", "held:")):
            kind = "note"
        else:
            kind = "plain"
        out.append(DiffLine(text=line, kind=kind))
    return out


@dataclass(frozen=True)
class Annotation:
    group: str
    counts: tuple[tuple[str, int], ...]  # non-zero counts only, Nomad's names


def annotation_rows(annotations: Mapping[str, Mapping[str, Any]] | None) -> list[Annotation]:
    rows = []
    for group in sorted(annotations or {}):
        counts = (annotations or {})[group] or {}
        nonzero = tuple((k, int(v)) for k, v in counts.items() if isinstance(v, int) and v)
        rows.append(Annotation(group=group, counts=nonzero))
    return rows


@dataclass(frozen=True)
class HoldExplanation:
    reason: str  # the hold reason value
    why: str
    release: str
    detail: str  # the plan's or daemon's own words


def explain_hold(row: JobRow, daemon: JobStateView | None) -> HoldExplanation | None:
    if row.state == "held":
        reason = row.hold_reason or (daemon.held_reason if daemon else None) or ""
        why, release = HOLD_HELP.get(reason, ("The job is held.", "See the reason below."))
        return HoldExplanation(reason=reason, why=why, release=release, detail=row.reason)
    if row.state == "error":
        cause = (daemon.error_cause if daemon else None) or ""
        return HoldExplanation(
            reason=f"error ({cause})" if cause else "error",
            why=ERROR_HELP.get(cause, "The job could not be planned or applied."),
            release="Fix the cause below; the daemon retries on the next change or pass.",
            detail=row.reason,
        )  # fmt: skip
    return None
