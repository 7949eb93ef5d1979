"""The daemon's state and the small verbs every part of it uses.

``DaemonBase`` holds everything the daemon remembers (built in ``__init__``:
no attribute appears later) and the verbs shared by its parts: submit keys to
the queue, spawn supervised tasks, the rollout and heal timers, deferral of
file changes (waves, the deployment cap), readiness and Nomad's reachability,
and ``_forget``.  The parts build on it in one chain, each in its own module:
``checkout`` → ``prunes`` → ``outcomes`` → ``rollouts`` → ``worker`` →
``triggers`` → ``nomad_events`` → ``loop`` (the composition root).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.config.connection import NomadConfig
from reconciler.config.groups import DaemonSettings
from reconciler.core.actions import HoldReason
from reconciler.core.analysis_templates import AnalysisCatalog
from reconciler.core.ownership import parse_wave
from reconciler.core.policy import daemon_policy
from reconciler.daemon.analysis_log import DaemonAnalysis
from reconciler.daemon.debounce import Debouncer, ParseErrorGate
from reconciler.daemon.hooks import DaemonObserver
from reconciler.daemon.logging import SecretFilter
from reconciler.daemon.memory import JobMemory
from reconciler.daemon.ordering import defer_changes
from reconciler.daemon.pass_lock import PassLock
from reconciler.daemon.queue import WorkQueue
from reconciler.daemon.watcher import JobsDirWatcher
from reconciler.errors import (
    NomadUnavailableError,
    ReconcilerError,
)
from reconciler.jobspec.loader import LoadCache
from reconciler.model import JobKey, Revision, Snapshot
from reconciler.nomad.client import NomadClient
from reconciler.nomad.retry import RetryPolicy
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.observability.server import Heartbeat
from reconciler.revision import (
    JobsSource,
)
from reconciler.sync.api import ClientApi
from reconciler.sync.engine import Reconciler
from reconciler.sync.outcome import JobOutcome
from reconciler.sync.outcome import Result as SyncResult
from reconciler.sync.rollout import expects_deployment

log = logging.getLogger("reconciler.daemon")

ALL: JobKey = ("*", "*")
"""The queue key of a full pass (every declared and live job)."""

TICK_S = 1.0  # liveness heartbeat period
LIVENESS_MAX_AGE_S = 30.0
ROLLOUT_APPEAR_TIMEOUT_S = 60.0  # how long to wait for a registration's deployment to show up
STREAM_ROLLOUT_POLL_S = 10.0
ROLLOUT_CHECK_CONCURRENCY = 16  # deployment reads in flight at once
REVISIONS_KEPT = 256
RECOVERY_RESYNC_MIN_S = 5.0
WRITE_WAIT_MAX_S = 10.0  # longest wait for a writer to close a job file  # at most one "Nomad is back" full pass per this many seconds  # first-seen times kept for commit-to-healthy  # rollout re-check while deployment events arrive anyway


class Reason(enum.StrEnum):
    FILE = "file"  # the job's file changed
    NOMAD = "nomad"  # Nomad says the job changed (possibly out of band)
    ROLLOUT = "rollout"  # re-check the job's deployment
    PROMOTE = "promote"  # the promotion policy says promote: a pass plans it (pass lock)
    RESYNC = "resync"


def job_fields(key: JobKey, **more: Any) -> dict[str, Any]:
    return {"fields": {"nomad_namespace": key[0], "nomad_job": key[1], **more}}


def held_reason_of(outcome: JobOutcome) -> str:
    """The one ``reason`` label of a job the engine held (the metrics' small set).

    The plan names its holds; an engine outcome held without a plan hold is a
    wave the engine did not start because a lower one failed (``--wait``).
    """
    return (outcome.action.hold_reason or HoldReason.WAVE).value


def nomad_config(settings: DaemonSettings) -> NomadConfig:
    """The client config from resolved settings (precedence already applied)."""
    return settings.nomad


class DaemonBase:
    """The daemon's memory and shared verbs (see the module docstring)."""

    # Wired to the worker and the triggers by the composition root's ``__init__``.
    queue: WorkQueue[JobKey]
    debouncer: Debouncer

    def __init__(
        self,
        settings: DaemonSettings,
        *,
        env: Mapping[str, str],
        flags: Mapping[str, Any] | None = None,
        metrics: ReconcilerMetrics | None = None,
        secret_filter: SecretFilter | None = None,
        observer: DaemonObserver | None = None,
    ) -> None:
        self.settings = settings
        self.observer = observer or DaemonObserver()  # told what the metrics are told
        self.env = dict(env)
        self.flags = dict(flags or {})
        self.metrics = metrics or ReconcilerMetrics()
        self.secret_filter = secret_filter
        self.memory = JobMemory()  # one record per job: indexes, rollouts, holds, timers
        self.clock = time.time  # the engine's clock: its plan reads the soak clock too
        self.gate = ParseErrorGate(settle=settings.timing.settle)
        self.snapshot: Snapshot | None = None
        self._declared: dict[JobKey, Any] = {}  # the current snapshot's jobs by key
        self._analysis_catalog = AnalysisCatalog()  # the checkout's analysis templates
        # Without Prometheus until run() reads the settings: analyses then never pass.
        self.analysis = DaemonAnalysis(None, on_measurement=self.metrics.observe_analysis_measurement)
        self.revision: Revision | None = None
        self._reasons: dict[JobKey, set[Reason]] = {}
        self._running_reasons: dict[JobKey, set[Reason]] = {}  # of keys in a running batch
        self._pruned_at: list[float] = []  # wall times of recent prunes (--prune-window)
        self._prune_recheck: asyncio.TimerHandle | None = None
        self._stream_connected = False
        self._recovery_resync_at = -RECOVERY_RESYNC_MIN_S
        self._writes_waited_since = 0.0  # monotonic; 0: not waiting for a writer
        self._event_at: dict[str, float] = {}  # path -> monotonic time of its first event
        self._revision_seen: dict[str, float] = {}  # commit → wall time first seen
        self._reported_errors: frozenset[tuple[str, str]] = frozenset()
        self._recheck: asyncio.TimerHandle | None = None
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()
        self._load_lock = asyncio.Lock()
        self._pass_lock = PassLock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._fatal: BaseException | None = None  # why a root task died: the process exits
        self._first_pass_done = False
        self._source: JobsSource | None = None  # what the latest load read (committed or not)
        self._committed_dir: str | None = None  # copies of committed trees (dirty checkouts)
        self._nomad_ok: bool | None = None
        self._nomad_error = ""
        self.heartbeat = Heartbeat(LIVENESS_MAX_AGE_S)
        self.passes = 0  # full passes completed (tests, logs)
        self._cache = LoadCache()  # the loader's content-hash cache
        self.watcher: JobsDirWatcher | None = None  # started by run()
        # The parts run() drives; built here (no I/O), so nothing is half-there.
        self.client = NomadClient(
            nomad_config(settings),
            retry=RetryPolicy(attempts=2, initial_backoff=0.1, max_backoff=1.0, max_total=5.0),
            on_request=self.metrics.observe_nomad_request,
        )
        self.nomad_api = ClientApi(self.client)  # the engine's; notes the first list's index
        self.engine = Reconciler(
            self.nomad_api, daemon_policy(settings), annotate=False, clock=self.clock,
            on_mismatch=lambda _key, fields: self.metrics.observe_canonical_mismatch(fields),
        )  # fmt: skip

    def readiness(self) -> tuple[bool, str]:
        if not self._first_pass_done:
            return False, "first full pass not done yet"
        if self._nomad_ok is False:
            return False, f"Nomad unreachable: {self._nomad_error}"
        return True, "ready"

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    def _spawn(self, coro: Any, name: str, *, root: bool = False) -> None:
        """Run ``coro`` as a supervised task.

        Root tasks (heartbeat, resync timer, Nomad watch) run for the life of the
        process: if one ends or raises, the daemon logs why and stops with a
        non-zero status, so that a supervisor (Nomad's ``restart`` block, systemd)
        restarts it.  A half-dead process that still answers ``/healthz`` would
        never be restarted.  Other tasks are short-lived; their errors are logged.
        """
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._on_task_done(t, root=root))

    def _on_task_done(self, task: asyncio.Task[Any], *, root: bool) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so asyncio never reports it unseen
        if exc is None and (not root or self._stop.is_set()):
            return
        if not root:
            log.error("internal task %s failed", task.get_name(), exc_info=exc)
            return
        if self._fatal is not None:
            return
        self._fatal = exc or RuntimeError(f"internal task {task.get_name()} ended")
        if isinstance(exc, ReconcilerError):
            log.error("stopping: %s", exc, extra={"fields": {"task": task.get_name()}})
        else:
            log.critical("stopping: internal task %s died", task.get_name(),
                         exc_info=exc if exc is not None else None)
        self.request_stop()

    def _submit(self, keys: Iterable[JobKey], reason: Reason, *, urgent: bool = False) -> None:
        for key in keys:
            self._reasons.setdefault(key, set()).add(reason)
            self.queue.submit(key, urgent=urgent)

    def _set_nomad_ok(self) -> None:
        if self._nomad_ok is False:
            # Work may have piled up in backoff during the outage: converge now (but a
            # flapping connection must not turn into back-to-back full passes).
            now = time.monotonic()
            if now - self._recovery_resync_at >= RECOVERY_RESYNC_MIN_S:
                self._recovery_resync_at = now
                log.info("Nomad reachable again; full resync")
                self._submit([ALL], Reason.RESYNC, urgent=True)
            else:
                log.info("Nomad reachable again")
        self._nomad_ok = True
        self._nomad_error = ""

    def _set_nomad_error(self, exc: BaseException) -> None:
        """Readiness turns false; logged once per outage, not once per failed request."""
        if isinstance(exc, NomadUnavailableError):
            if self._nomad_ok is not False:
                log.warning("Nomad unavailable", extra={"fields": {"error": str(exc)}})
            self._nomad_ok = False
            self._nomad_error = str(exc)

    def _cancel_rollout_check(self, key: JobKey) -> None:
        record = self.memory.get(key)
        if record is not None and record.rollout_timer is not None:
            record.rollout_timer.cancel()
            record.rollout_timer = None

    def _schedule_rollout_check(self, key: JobKey, delay: float) -> None:
        self._cancel_rollout_check(key)
        record = self.memory.get_or_create(key)

        def fire() -> None:
            record.rollout_timer = None
            self._submit([key], Reason.ROLLOUT)

        record.rollout_timer = asyncio.get_running_loop().call_later(max(delay, 0.0), fire)

    def _heal_after_deployment(self, key: JobKey) -> None:
        """Re-check a job whose healing waits for a running deployment, until it ends.

        Deployment events wake it at once; the timer covers blocking-query mode.
        """
        record = self.memory.get_or_create(key)
        if record.heal_timer is not None:
            record.heal_timer.cancel()

        def fire() -> None:
            record.heal_timer = None
            self._submit([key], Reason.NOMAD)

        delay = max(self.settings.timing.rollout_poll, 1.0)
        record.heal_timer = asyncio.get_running_loop().call_later(delay, fire)

    def _loaded(self) -> Snapshot:
        """The checkout as last loaded (a snapshot is never unloaded once there)."""
        assert self.snapshot is not None
        return self.snapshot

    def _is_current(self, out: JobOutcome) -> bool:
        """Did this outcome concern the job's current spec (not one replaced meanwhile)?"""
        desired = out.action.desired
        current = self._declared.get(out.key)
        if desired is None or current is None:
            return desired is None and current is None
        return bool(desired.digest == current.digest)

    def _wave_of(self, key: JobKey) -> int:
        desired = self._declared.get(key)
        try:
            return parse_wave(desired.canonical.get("Meta") if desired else None)
        except ValueError:
            return 0  # the engine reports the bad value against the file

    def _defer(self, keys: set[JobKey], parked: Mapping[JobKey, tuple[str, str]]) -> set[JobKey]:
        """File changes among ``keys`` that must wait for a lower wave or the deployment cap."""
        pending = self.memory.pending_files()
        changed = {k: self._wave_of(k) for k in keys if k in pending}
        if not changed:
            return set()
        deploying = {k for k in changed
                     if k in self._declared and expects_deployment(self._declared[k].canonical)}
        deferrals = defer_changes(
            changed, deploying=deploying,
            rolling={k: t.wave for k, t in self.memory.tracking().items()},
            held={k: self._wave_of(k) for k, (state, _r) in parked.items() if state == "held"},
            cap=self.settings.policy.max_concurrent_deployments,
        )  # fmt: skip
        for key, deferral in deferrals.items():
            record = self.memory.get_or_create(key)
            if record.deferral != deferral:
                log.info("change deferred", extra=job_fields(
                    key, reason=deferral.reason, detail=deferral.detail))
            record.deferral = deferral
            self.metrics.set_job_state(key, "held", held_reason=deferral.reason)
        return set(deferrals)

    def _release_deferred_after(self, outcomes: Iterable[JobOutcome]) -> None:
        """A registration went through (a lower wave may be done): retry deferred changes."""
        tracking = self.memory.tracking()
        if self.memory.deferred() and any(
            o.result in (SyncResult.CREATED, SyncResult.UPDATED) and o.key not in tracking
            for o in outcomes
        ):
            self._release_deferred()

    def _release_deferred(self) -> None:
        keys = self.memory.take_deferred()
        if keys:
            self._submit(keys, Reason.FILE)

    def _forget(self, key: JobKey) -> None:
        """A job gone from the checkout and from Nomad: drop everything kept about it."""
        self.memory.forget(key)
        self.metrics.forget_job(key)
