"""The daemon's composition root: triggers wired to the per-job work queue.

Responsible for building the parts from ``DaemonSettings`` (Nomad client,
sync engine, watcher, metrics server) and for wiring every trigger to the
queue.  Triggers only say *which job* to look at and *why*; the work always
rebuilds the picture from the checkout and from Nomad, so lost, duplicated
or reordered events cannot cause drift:

- files: watchdog → debounce (and wait for writers to close their files) →
  re-scan (content-hash cache) → jobs whose digest changed are due
  (``FILE``, urgent: a new spec ends a backoff);
- Nomad (``nomad_watch``): the event stream (Job, Deployment and Evaluation topics), or
  blocking queries on the job list when the server has no stream →
  ``NOMAD`` / ``ROLLOUT``;
- a full pass at start, every ``resync_interval``, after a reconnect or an
  outage, and on SIGHUP (``ALL``);
- rollouts: after a registration, and while a deployment runs, a re-check
  timer (``ROLLOUT``) until it ends; the soak timer of a promotion.

Keys due together form one batch and one engine call (``queue``).  Before
the engine sees a batch, the daemon removes what must not be submitted now:
specs whose rollout failed or that Nomad rejected (until their file changes)
and file changes that wait for a lower wave or the deployment cap
(``ordering``).  Without self-heal, only changes that come from git are
applied; drift is reported.

Diff, plan and apply are the sync engine's (``reconciler.sync.engine``);
rollout phases and promotion are ``rollout.RolloutTracker``'s decisions.
This module only sequences I/O and reports (logs, metrics).  Its memory is
per process: a restart re-learns everything from the checkout and Nomad.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.config.connection import NomadConfig
from reconciler.config.settings import DaemonSettings, load_settings, reload_changes
from reconciler.config.values import parse_listen_address
from reconciler.core.actions import ActionKind, HoldReason
from reconciler.core.analysis_templates import AnalysisCatalog, build_catalog
from reconciler.core.diff import DriftState
from reconciler.core.ownership import parse_wave, read_ownership
from reconciler.core.policy import daemon_policy
from reconciler.core.promotion import (
    NO_ANALYSIS,
    Analysis,
    AnalysisState,
    expects_canaries,
    soak_or_none,
)
from reconciler.core.prune import PruneHistory
from reconciler.daemon.analysis import CanaryAnalysis
from reconciler.daemon.debounce import Debouncer, ParseErrorGate
from reconciler.daemon.hooks import DaemonObserver
from reconciler.daemon.logging import SecretFilter, configure_logging
from reconciler.daemon.nomad_watch import DeploymentChange, JobChange, NomadWatch
from reconciler.daemon.ordering import Deferral, defer_changes
from reconciler.daemon.pass_lock import PassLock
from reconciler.daemon.queue import Outcome, QueueSettings, Result, WorkQueue
from reconciler.daemon.rollout import (
    RolloutPhase,
    RolloutTracker,
    canaries_all_healthy,
    promotion_soak,
)
from reconciler.daemon.watcher import JobsDirWatcher
from reconciler.errors import (
    ConfigError,
    ErrorCause,
    NomadError,
    NomadUnavailableError,
    ReconcilerError,
)
from reconciler.jobspec.analysis_files import read_analysis_files
from reconciler.jobspec.loader import LoadCache
from reconciler.model import JobKey, Revision, Snapshot
from reconciler.nomad.client import NomadClient
from reconciler.nomad.retry import RetryPolicy
from reconciler.observability.labels import OperationResult
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.observability.server import Heartbeat, ObservabilityServer
from reconciler.prometheus.config import prometheus_config
from reconciler.revision import (
    JobsSource,
    SourceKind,
    checkout_busy,
    read_git_dirs,
    read_revision,
    resolve_jobs_source,
)
from reconciler.sync.api import ClientApi
from reconciler.sync.engine import Reconciler
from reconciler.sync.outcome import JobOutcome
from reconciler.sync.outcome import Result as SyncResult
from reconciler.sync.rollout import expects_deployment
from reconciler.sync.session import require_namespaces
from reconciler.token_file import TokenSource

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


def _fields(key: JobKey, **more: Any) -> dict[str, Any]:
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


@dataclasses.dataclass
class _Tracking:
    """A registration whose deployment the daemon follows."""

    job_modify_index: int
    digest: str
    registered_at: float  # monotonic
    revision: str | None
    wave: int = 0


@dataclasses.dataclass
class _Rejection:
    """A spec Nomad refused for a reason in the file: not resubmitted until it changes,
    except on a slow backoff (the server may change: an upgrade, a new driver)."""

    digest: str
    message: str
    attempts: int
    retry_at: float  # monotonic
    timer: asyncio.TimerHandle | None = None


class Daemon:
    """The long-running reconciler.  ``await run()`` until ``request_stop()``."""

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
        self.tracker = RolloutTracker()
        self.clock = time.time  # the engine's clock: its plan reads the soak clock too
        self.gate = ParseErrorGate(settle=settings.settle)
        self.snapshot: Snapshot | None = None
        self._declared: dict[JobKey, Any] = {}  # the current snapshot's jobs by key
        self._analysis_catalog = AnalysisCatalog()  # the checkout's analysis templates
        # Without Prometheus until run() reads the settings: analyses then never pass.
        self.analysis = CanaryAnalysis(None, on_measurement=self.metrics.observe_analysis_measurement)
        self.revision: Revision | None = None
        self._reasons: dict[JobKey, set[Reason]] = {}
        self._running_reasons: dict[JobKey, set[Reason]] = {}  # of keys in a running batch
        self._pending_files: set[JobKey] = set()  # file changed, not yet applied
        self._changed_at: dict[JobKey, float] = {}  # monotonic time of the file event
        self._drift_at: dict[JobKey, float] = {}  # wall time of an out-of-band change
        self._known_index: dict[JobKey, int] = {}  # JobModifyIndex last seen in sync / ours
        self._tracking: dict[JobKey, _Tracking] = {}
        self._rejected: dict[JobKey, _Rejection] = {}  # specs Nomad refused for the file's sake
        self._absent_since: dict[JobKey, float] = {}  # wall time an orphan was first held
        self._pruned_at: list[float] = []  # wall times of recent prunes (--prune-window)
        self._prune_recheck: asyncio.TimerHandle | None = None
        self._deployment_events: dict[JobKey, dict[str, Any]] = {}  # latest payload per job
        self._stream_connected = False
        self._recovery_resync_at = -RECOVERY_RESYNC_MIN_S
        self._writes_waited_since = 0.0  # monotonic; 0: not waiting for a writer
        self._event_at: dict[str, float] = {}  # path -> monotonic time of its first event
        self._deferred: dict[JobKey, Deferral] = {}  # file changes waiting (wave, cap)
        self._timers: dict[JobKey, asyncio.TimerHandle] = {}
        self._heal_timers: dict[JobKey, asyncio.TimerHandle] = {}  # healing after a deployment
        self._revision_seen: dict[str, float] = {}  # commit → wall time first seen
        self._reported_errors: frozenset[tuple[str, str]] = frozenset()
        self._reported_orphans: set[JobKey] = set()  # told once that it keeps running
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
        self.queue: WorkQueue[JobKey] = WorkQueue(
            self._handle_batch,
            settings=QueueSettings(
                backoffs=settings.backoffs, jitter=settings.jitter, max_workers=settings.workers
            ),
            on_outcome=self._on_queue_outcome,
        )
        self.debouncer = Debouncer(
            self._on_files_settled, quiet=settings.debounce, max_delay=settings.debounce_max
        )

    # -- health ----------------------------------------------------------------------

    def readiness(self) -> tuple[bool, str]:
        if not self._first_pass_done:
            return False, "first full pass not done yet"
        if self._nomad_ok is False:
            return False, f"Nomad unreachable: {self._nomad_error}"
        return True, "ready"

    # -- lifecycle -------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        s = self.settings
        try:
            if not os.path.isdir(s.jobs_dir):
                raise ConfigError(f"{s.jobs_dir}: jobs directory not found (or not a directory)")
            check_startup_config(s)
        except ConfigError:
            await self.client.aclose()
            raise
        await self._require_namespace()
        self.analysis = CanaryAnalysis(
            prometheus_config(
                url=s.prometheus_url, env=self.env, token_file=s.prometheus_token_file,
                ca_cert=s.prometheus_ca_cert, client_cert=s.prometheus_client_cert,
                client_key=s.prometheus_client_key, tls_server_name=s.prometheus_tls_server_name,
                skip_verify=s.prometheus_tls_skip_verify,
            ),
            on_measurement=self.metrics.observe_analysis_measurement,
        )  # fmt: skip
        self._install_signals(loop)
        server = self._start_server()
        self._committed_dir = tempfile.mkdtemp(prefix="nomad-reconciler-committed-")
        self.watcher = watcher = JobsDirWatcher(
            s.jobs_dir, on_paths=self._on_file_events, on_switch=self._on_checkout_switched,
            git_dirs=await asyncio.to_thread(read_git_dirs, s.jobs_dir),
        )  # fmt: skip
        watcher.start()
        log.info(
            "daemon started",
            extra={"fields": {"jobs_dir": os.path.abspath(s.jobs_dir),
                              "nomad": nomad_config(s).display_address, "self_heal": s.self_heal,
                              "listen": server.url if server else None}},
        )
        try:
            await self._rescan(initial=True)
            self._submit([ALL], Reason.RESYNC)
            self._spawn(self._tick(), "tick", root=True)
            self._spawn(self._resync_timer(), "resync", root=True)
            watch = NomadWatch(self.client, self, event_stream=s.event_stream,
                               start_index=self.nomad_api.first_list_index)  # issue 10
            self._spawn(watch.run(), "nomad-watch", root=True)
            while not self._stop.is_set():
                reload_wait = asyncio.ensure_future(self._reload.wait())
                stop_wait = asyncio.ensure_future(self._stop.wait())
                await asyncio.wait({reload_wait, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                for fut in (reload_wait, stop_wait):
                    fut.cancel()
                if self._reload.is_set() and not self._stop.is_set():
                    self._reload.clear()
                    self._apply_reload()
        finally:
            await self._shutdown(server)
        if self._fatal is not None:
            if isinstance(self._fatal, ReconcilerError):
                raise self._fatal  # the CLI prints the reason and exits 1
            return 1
        return 0

    async def _require_namespace(self) -> None:
        """The configured namespace exists: a mistyped one is a configuration error.

        Nomad unreachable at start cannot tell; then the jobs' own registrations
        will say it (``job ... is in nonexistent namespace``).
        """
        namespace = self.settings.nomad.namespace
        if not namespace:
            return
        try:
            await require_namespaces(
                self.client, [namespace], flag="--namespace (or NOMAD_NAMESPACE)"
            )
        except NomadError as exc:
            log.warning("could not check that the namespace exists",
                        extra={"fields": {"namespace": namespace, "error": str(exc)}})
        except ConfigError:
            await self.client.aclose()
            raise

    async def _shutdown(self, server: ObservabilityServer | None) -> None:
        log.info("shutting down", extra={"fields": {"timeout_s": self.settings.shutdown_timeout}})
        if self.watcher is not None:
            self.watcher.stop()
        self.debouncer.cancel()
        for timer in (*self._timers.values(), *self._heal_timers.values()):
            timer.cancel()
        if self._recheck is not None:
            self._recheck.cancel()
        if self._prune_recheck is not None:
            self._prune_recheck.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        finished = await self.queue.close(timeout=self.settings.shutdown_timeout)
        if not finished:
            log.warning("in-flight work cancelled at shutdown timeout")
        await self.analysis.aclose()
        await self.client.aclose()
        if server is not None:
            server.stop()
        if self._committed_dir is not None:
            shutil.rmtree(self._committed_dir, ignore_errors=True)
        log.info("stopped", extra={"fields": {"clean": finished}})

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)

    def _start_server(self) -> ObservabilityServer | None:
        if not self.settings.listen:
            return None
        host, port = parse_listen_address(self.settings.listen)
        server = ObservabilityServer(
            self.metrics, host=host, port=port,
            liveness=self.heartbeat.check, readiness=self.readiness,
            app=self.observer.http_app(self),
        )  # fmt: skip
        server.start()
        return server

    def _apply_reload(self) -> None:
        try:
            new = load_settings(self.flags, os.environ)
        except ReconcilerError as exc:
            log.error("configuration reload failed; keeping the running configuration",
                      extra={"fields": {"error": str(exc)}})
            return
        applied, restart = reload_changes(self.settings, new)
        if "apply_uncommitted" in applied:
            self._spawn(self._rescan(), "rescan")  # what may be applied changed
        keep = {f: getattr(self.settings, f) for f in restart}
        self.settings = dataclasses.replace(new, **keep)
        self.engine.policy = daemon_policy(self.settings)
        self.queue.settings = QueueSettings(
            backoffs=self.settings.backoffs, jitter=self.settings.jitter,
            max_workers=self.settings.workers,
        )  # fmt: skip
        self.debouncer.quiet = self.settings.debounce
        self.debouncer.max_delay = self.settings.debounce_max
        self.gate.settle = self.settings.settle
        logging.getLogger("reconciler").setLevel(self.settings.log_level.upper())
        log.info("configuration reloaded", extra={"fields": {
            "applied": sorted(applied), "needs_restart": sorted(restart)}})
        self._submit([ALL], Reason.RESYNC)

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

    async def _tick(self) -> None:
        while True:
            self.heartbeat.beat()
            await asyncio.sleep(TICK_S)

    async def _resync_timer(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_interval)
            await self._rescan()
            self._submit([ALL], Reason.RESYNC)

    # -- triggers: files -------------------------------------------------------------

    def _on_file_events(self, paths: set[str]) -> None:
        """Loop thread: remember when each path first changed (the latency's start), debounce."""
        now = time.monotonic()
        for path in paths:
            self._event_at.setdefault(path, now)
        self.debouncer.add(paths)

    def _first_event_at(self, path: str, *, default: float) -> float:
        """When the file at ``path`` (or a directory above it) first changed, for the latency."""
        candidates = [self._event_at.get(path)]
        parent = os.path.dirname(path)
        while parent:
            candidates.append(self._event_at.get(parent))
            parent = os.path.dirname(parent)
        seen = [t for t in candidates if t is not None]
        return min(seen) if seen else default

    def _on_files_settled(self, paths: frozenset[str]) -> None:
        if self.watcher is None:
            return  # stopped
        writing = self.watcher.writing
        now = time.monotonic()
        if writing:
            # Never act on a half-written file: wait (bounded) for its writer to close it.
            self._writes_waited_since = self._writes_waited_since or now
            if now - self._writes_waited_since < WRITE_WAIT_MAX_S:
                log.debug("waiting for files being written", extra={"fields": {
                    "paths": sorted(writing)[:20]}})
                self.debouncer.add(paths | writing)
                return
            log.warning("files still open for writing; loading them anyway",
                        extra={"fields": {"paths": sorted(writing)[:20]}})
            # Given up on: a later change must not wait for these again.
            self.watcher.forget_writes(writing)
        self._writes_waited_since = 0.0
        log.debug("files changed", extra={"fields": {"paths": sorted(paths)[:20],
                                                      "count": len(paths)}})
        self._spawn(self._rescan(), "rescan")

    def _on_checkout_switched(self) -> None:
        self._spawn(self._rescan(), "rescan")

    async def _load(self) -> Snapshot:
        from reconciler.jobspec.loader import load_directory
        from reconciler.jobspec.variables import VariableInputs

        # Only NOMAD_VAR_* matter, and the loader fingerprints the env it is given.
        var_env = {k: v for k, v in self.env.items() if k.startswith("NOMAD_VAR_")}
        inputs = VariableInputs(
            cli=self.settings.variables, files=self.settings.var_files, env=var_env
        )
        root = self.watcher.target if self.watcher is not None else self.settings.jobs_dir
        if self._committed_dir is None:
            self._committed_dir = tempfile.mkdtemp(prefix="nomad-reconciler-committed-")
        # Git busy before or after the load: the files may be half checked out.
        busy_before = await checkout_busy(root)
        source = await asyncio.to_thread(
            resolve_jobs_source, root, cache_dir=self._committed_dir,
            uncommitted=self.settings.apply_uncommitted,
        )  # fmt: skip
        self._report_source(source)
        snapshot = await asyncio.to_thread(
            load_directory, source.root, inputs=inputs, cache=self._cache,
            max_file_size=self.settings.max_file_size,
        )  # fmt: skip
        texts, unread = await asyncio.to_thread(
            read_analysis_files, source.root, max_file_size=self.settings.max_file_size)
        self._analysis_catalog = build_catalog(texts, read_errors=unread)
        for problem in self._analysis_catalog.errors:
            log.error("analysis template error", extra={"fields": {"error": problem.describe()}})
        revision = await read_revision(root)
        if revision is not None and busy_before:
            revision = dataclasses.replace(revision, busy=True)
        return dataclasses.replace(snapshot, root=root, revision=revision)

    def _report_source(self, source: JobsSource) -> None:
        """Say once per change what is (not) applied: committed state, or the files."""
        previous, self._source = self._source, source
        if previous is not None and (previous.kind, previous.uncommitted) == (
            source.kind, source.uncommitted
        ):  # fmt: skip
            return
        paths = list(source.uncommitted[:20])
        if source.kind is SourceKind.NOT_GIT:
            log.warning("the jobs directory is not in a git checkout: applying its files as "
                        "they are")  # fmt: skip
        elif source.kind is SourceKind.COMMITTED:
            log.warning(
                "uncommitted changes are not applied (commit them, or run with "
                "--apply-uncommitted)", extra={"fields": {"paths": paths,
                                                          "count": len(source.uncommitted)}},
            )  # fmt: skip
        elif source.kind is SourceKind.WORKING_TREE:
            log.info("applying uncommitted changes (--apply-uncommitted)",
                     extra={"fields": {"paths": paths, "count": len(source.uncommitted)}})
        elif previous is not None:
            log.info("the jobs directory is clean again: applying its commit")

    async def _rescan(self, *, initial: bool = False) -> None:
        """Re-load the jobs directory; mark jobs whose spec changed as due."""
        started = time.monotonic()
        # Events up to now are covered by this load; later ones belong to the next.
        covered = {p: t for p, t in self._event_at.items() if t <= started}
        async with self._load_lock:
            try:
                snapshot = await self._load()
            except Exception:
                log.exception("loading the jobs directory failed")
                return
            previous = self.snapshot
            self.snapshot = snapshot
            self._declared = snapshot.by_key()
            for key in [k for k in self._absent_since if k in self._declared]:
                del self._absent_since[key]  # its file came back: never prune it for that
        self._observe_revision(snapshot.revision)
        self._report_load_errors(snapshot)
        if initial or previous is None:
            return
        old, new = previous.by_key(), snapshot.by_key()
        failing = {d.path for d in snapshot.errors}
        changed = {k for k, job in new.items() if k not in old or old[k].digest != job.digest}
        # A job whose file now fails to load is an error, not an orphan: leave it be.
        removed = {k for k, job in old.items() if k not in new and job.path not in failing}
        due = changed | removed
        for key in due:
            self._pending_files.add(key)
            job = new.get(key) or old[key]
            # Latency counts from the first file event, not from this (debounced) pass.
            self._changed_at.setdefault(key, self._first_event_at(job.path, default=started))
        for path, at in covered.items():
            if self._event_at.get(path) == at:
                del self._event_at[path]
        if due:
            log.info("job files changed", extra={"fields": {
                "jobs": sorted(f"{ns}/{job}" for ns, job in due)[:20], "count": len(due),
                "revision": snapshot.revision.commit[:12] if snapshot.revision else None}})
            self._submit(due, Reason.FILE, urgent=True)
        if removed and self.settings.prune:
            # Pruning guards (fraction of owned jobs, empty checkout) need the whole picture.
            self._submit([ALL], Reason.RESYNC, urgent=True)

    def _observe_revision(self, revision: Revision | None) -> None:
        if revision is not None:
            self._revision_seen.setdefault(revision.commit, time.time())
            while len(self._revision_seen) > REVISIONS_KEPT:  # runs for months: bounded
                del self._revision_seen[next(iter(self._revision_seen))]
            if self.revision != revision:
                log.info("checkout revision", extra={"fields": {
                    "commit": revision.commit, "dirty": revision.dirty, "ref": revision.ref}})
        self.revision = revision
        self.metrics.set_revision(revision.commit if revision else None,
                                  revision.dirty if revision else False)
        self.observer.revision_observed(revision)

    def _report_load_errors(self, snapshot: Snapshot) -> None:
        """Report load errors that persisted past the settle time; re-check the others."""
        loop = asyncio.get_running_loop()
        report, recheck_at = self.gate.filter(snapshot.errors, now=loop.time())
        self.metrics.observe_load_errors(report)
        current = frozenset((d.path, d.message) for d in report)
        for diag in report:
            if (diag.path, diag.message) not in self._reported_errors:
                log.error("job file failed to load", extra={"fields": {
                    "file": diag.location, "error": diag.message}})
        self._reported_errors = current
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        if recheck_at is not None:
            self._recheck = loop.call_at(
                recheck_at, lambda: self._spawn(self._rescan(), "settle-recheck")
            )

    # -- triggers: Nomad (the WatchListener of NomadWatch) ------------------------------

    def is_relevant(self, key: JobKey, job: Mapping[str, Any] | None) -> bool:
        """Jobs we declare, own (stamped) or have registered: others are never touched."""
        declared = key in self._declared
        owned = job is not None and read_ownership(job.get("Meta")) is not None
        return declared or owned or key in self._known_index

    def known_index(self, key: JobKey) -> int | None:
        return self._known_index.get(key)

    def on_job_changed(self, change: JobChange) -> None:
        self._drift_at.setdefault(change.key, change.changed_at)
        self._submit([change.key], Reason.NOMAD)

    def on_deployment(self, change: DeploymentChange) -> None:
        # The payload is the whole deployment: the rollout check uses it, no request.
        self._deployment_events[change.key] = dict(change.deployment)
        self._submit([change.key], Reason.ROLLOUT)
        if change.key in self._heal_timers:
            self._submit([change.key], Reason.NOMAD)  # healing waits for this deployment

    def _heal_after_deployment(self, key: JobKey) -> None:
        """Re-check a job whose healing waits for a running deployment, until it ends.

        Deployment events wake it at once; the timer covers blocking-query mode.
        """
        old = self._heal_timers.pop(key, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self._heal_timers.pop(key, None)
            self._submit([key], Reason.NOMAD)

        delay = max(self.settings.rollout_poll, 1.0)
        self._heal_timers[key] = asyncio.get_running_loop().call_later(delay, fire)

    def on_connection(self, connected: bool, *, reconnect: bool) -> None:
        self._stream_connected = connected
        self.metrics.set_event_stream_connected(connected)
        self.observer.stream_changed(connected)
        if not connected:
            self._deployment_events.clear()  # may miss updates from now on
            if self._stop.is_set():
                return  # we closed it ourselves: shutting down is not an outage
            self._set_nomad_error(NomadUnavailableError("event stream disconnected"))
            return
        self._set_nomad_ok()
        if reconnect:  # events may have been missed while disconnected
            log.info("event stream reconnected; full resync")
            self._submit([ALL], Reason.RESYNC)

    def on_index_reset(self) -> None:
        # Nomad restarted without its state: the JobModifyIndexes we know are from a
        # history that is gone, and would filter out every new event as "not news".
        log.warning("Nomad's state was reset (its index went backwards); full resync")
        self._known_index.clear()
        # The engine's per-index memory too: a new job may get an index an old one had.
        self.engine.memory.jobs.clear()
        self.engine.memory.submitted.clear()
        self._submit([ALL], Reason.RESYNC, urgent=True)

    def on_unavailable(self, exc: NomadUnavailableError) -> None:
        self._set_nomad_error(exc)

    def on_available(self) -> None:
        self._set_nomad_ok()

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

    # -- the queue -------------------------------------------------------------------

    def _submit(self, keys: Iterable[JobKey], reason: Reason, *, urgent: bool = False) -> None:
        for key in keys:
            self._reasons.setdefault(key, set()).add(reason)
            self.queue.submit(key, urgent=urgent)

    def _cancel_rollout_check(self, key: JobKey) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _schedule_rollout_check(self, key: JobKey, delay: float) -> None:
        self._cancel_rollout_check(key)

        def fire() -> None:
            self._timers.pop(key, None)
            self._submit([key], Reason.ROLLOUT)

        self._timers[key] = asyncio.get_running_loop().call_later(max(delay, 0.0), fire)

    def _on_queue_outcome(self, key: JobKey, outcome: Outcome, error: BaseException | None) -> None:
        reasons = self._running_reasons.pop(key, set())
        self.observer.job_handled(key)
        if outcome is Outcome.RETRY:
            # The queue's retry must redo what failed (a sync, not only a rollout check).
            self._reasons.setdefault(key, set()).update(reasons or {Reason.RESYNC})
        if error is None:
            return
        if outcome is Outcome.RETRY:
            level = logging.DEBUG if isinstance(error, NomadUnavailableError) else logging.WARNING
            log.log(level, "will retry with backoff", extra=_fields(key, error=str(error)))

    async def _handle_batch(self, batch: frozenset[JobKey]) -> Mapping[JobKey, Result]:
        reasons = {key: self._reasons.pop(key, set()) for key in batch}
        self._running_reasons.update(reasons)
        if self.snapshot is None:
            raise NomadUnavailableError("jobs directory not loaded yet")
        results: dict[JobKey, Result] = {}
        rest = batch - {ALL}
        sync_keys = {k for k in rest if reasons.get(k, set()) - {Reason.ROLLOUT}}
        # Rollouts first: a deployment that just failed must hold its spec before any
        # sync of that job could resubmit it.
        # (A promotion pass needs no look first: its check just asked for it.)
        check = {k for k in rest if k not in sync_keys} | {
            k for k in (self._tracking if ALL in batch else sync_keys)
            if k in self._tracking and reasons.get(k) != {Reason.PROMOTE}
        }
        gate = asyncio.Semaphore(ROLLOUT_CHECK_CONCURRENCY)

        async def check_one(key: JobKey) -> None:
            async with gate:
                try:
                    await self._check_rollout(key)
                except NomadError as exc:
                    self._set_nomad_error(exc)
                    results[key] = exc

        await asyncio.gather(*(check_one(k) for k in sorted(check)))
        # The checkout is read only once the lock is held: a batch that took it earlier
        # (before the rollout checks above, or while waiting) could otherwise write a
        # spec older than one a concurrent batch already wrote.
        if ALL in batch:
            async with self._pass_lock.exclusive():
                results.update(await self._full_pass(self._loaded()))
            # Jobs the full pass could not finish get their own retry with backoff.
            retry = [k for k, r in results.items()
                     if k not in batch and isinstance(r, BaseException)]
            self._submit(retry, Reason.RESYNC)
        sync_keys -= {k for k, r in results.items() if isinstance(r, BaseException)}
        if sync_keys:
            async with self._pass_lock.shared():
                # Drift Nomad told us about, not explained by a file change of ours.
                drift_keys = {k for k in sync_keys
                              if Reason.NOMAD in reasons.get(k, set())
                              and k not in self._pending_files}
                results.update(
                    await self._sync(self._loaded(), sync_keys, drift_keys=drift_keys)
                )
        return results

    def _loaded(self) -> Snapshot:
        """The checkout as last loaded (a snapshot is never unloaded once there)."""
        assert self.snapshot is not None
        return self.snapshot

    def _parked(self, snapshot: Snapshot) -> dict[JobKey, tuple[str, str]]:
        """Jobs not to submit again until their file changes: (state, reason) by key.

        ``held``: the spec's rollout failed.  ``error``: Nomad rejected the spec
        for a reason in the file (validation, bad request); resubmitting the same
        spec is only tried again on the slow ``rejected_backoffs``.
        """
        parked: dict[JobKey, tuple[str, str]] = {}
        now = time.monotonic()
        for key, job in snapshot.by_key().items():
            reason = self.tracker.hold_for(key, job.digest)
            if reason is not None:
                parked[key] = ("held", reason)
                continue
            rejected = self._rejected.get(key)
            if rejected is not None:
                if rejected.digest != job.digest:
                    self._drop_rejection(key)  # a new spec: try it
                elif now < rejected.retry_at:
                    parked[key] = ("error", rejected.message)
        return parked

    async def _full_pass(self, snapshot: Snapshot) -> dict[JobKey, Result]:
        started = time.monotonic()
        parked = self._parked(snapshot)
        held = {k for k, (state, _r) in parked.items() if state == "held"}
        deferred = self._defer(set(self._declared) - set(parked), parked)
        only: set[JobKey] | None = None
        if parked or deferred:
            # Everything known but the parked jobs (orphans included, for pruning).
            known = set(snapshot.by_key()) | set(self.engine.memory.jobs)
            only = known - set(parked) - deferred
        outcomes, unmanaged = await self._reconcile(snapshot, only=only)
        results = self._record_outcomes(outcomes.values(), snapshot)
        states = {k: self._state_of(o) for k, o in outcomes.items()}
        states.update({k: state for k, (state, _r) in parked.items()})
        states.update(dict.fromkeys(deferred, "held"))
        states.update(dict.fromkeys(unmanaged, "unmanaged"))  # counted, never touched
        # One reason per hold, the same one every other report of it gives.
        held_reasons = {k: held_reason_of(o) for k, o in outcomes.items()
                        if states.get(k) == "held"}  # fmt: skip
        held_reasons.update(dict.fromkeys(held, HoldReason.FAILED_ROLLOUT.value))
        held_reasons.update({k: self._deferred[k].reason for k in deferred if k in self._deferred})
        error_causes = {k: o.error.cause.value for k, o in outcomes.items() if o.error is not None}
        error_causes.update(
            {k: ErrorCause.FILE.value for k, (state, _r) in parked.items() if state == "error"}
        )
        self.metrics.observe_pass(
            time.monotonic() - started, states,
            held_reasons=held_reasons,
            error_causes=error_causes,
            succeeded=not any(isinstance(r, BaseException) or r is Outcome.FAILED
                              for r in results.values()),
        )
        self.passes += 1
        log.debug("full pass done", extra={"fields": {"pass": self.passes}})
        self._release_deferred_after(outcomes.values())
        # Canary rollouts the daemon may promote but is not following (it restarted, or
        # the event stream dropped meanwhile): look at them once.
        self._submit(
            [k for k, job in self._declared.items()
             if k not in self._tracking and k not in parked and self._may_promote(job)],
            Reason.ROLLOUT,
        )
        if not self._first_pass_done:
            self._first_pass_done = True
            summary: dict[str, int] = {}
            for out in outcomes.values():
                summary[out.result.value] = summary.get(out.result.value, 0) + 1
            log.info("first full pass done", extra={"fields": {
                "jobs": len(snapshot.jobs), "summary": summary}})
        # Jobs declared but absent from the engine's answer have nothing to do.
        return {ALL: None, **results}

    async def _sync(
        self, snapshot: Snapshot, keys: set[JobKey], *, drift_keys: set[JobKey]
    ) -> dict[JobKey, Result]:
        started = time.monotonic()
        declared = snapshot.by_key()
        results: dict[JobKey, Result] = {}
        keep: set[JobKey] = set()
        parked = self._parked(snapshot)
        for key in keys:
            desired = declared.get(key)
            if key in parked:
                state, reason = parked[key]
                self.metrics.set_job_state(
                    key, state,
                    held_reason=HoldReason.FAILED_ROLLOUT.value if state == "held" else None,
                    error_cause=ErrorCause.FILE.value if state == "error" else None,
                )
                file = desired.path if desired else None
                self._drift_at.pop(key, None)  # not healed: no detection to time
                if key in drift_keys and state == "held":
                    # Nomad says the job changed (a `job scale`, a `job run` by hand):
                    # say why the daemon leaves it, or the drift looks ignored.
                    log.warning(
                        "held: the rollout of this spec failed; the change made out of band "
                        "is not healed while the spec is held (commit a change to the file "
                        "to release it)",
                        extra=_fields(key, state=state, reason=reason, file=file),
                    )
                else:
                    log.info("not resubmitted until its file changes", extra=_fields(
                        key, state=state, reason=reason, file=file))
                self._pending_files.discard(key)
                continue
            keep.add(key)
        keep -= self._defer(keep, parked)
        if not keep:
            return results
        log.debug("syncing", extra={"fields": {
            "jobs": sorted(f"{ns}/{job}" for ns, job in keep)[:20], "count": len(keep)}})
        found, _unmanaged = await self._reconcile(snapshot, only=keep)
        outcomes = list(found.values())
        results.update(self._record_outcomes(outcomes, snapshot, drift_keys=drift_keys))
        self._release_deferred_after(outcomes)
        for key in keep:
            if key not in found:
                # Neither declared nor live any more (or out of scope): nothing to do.
                self._forget(key)
        self.metrics.reconcile_pass_duration.observe(time.monotonic() - started)
        if not any(isinstance(r, BaseException) or r is Outcome.FAILED for r in results.values()):
            self.metrics.mark_sync_succeeded()
        return results

    async def _reconcile(
        self, snapshot: Snapshot, *, only: set[JobKey] | None
    ) -> tuple[dict[JobKey, JobOutcome], tuple[JobKey, ...]]:
        """One engine pass.  Returns the outcomes by job and the live jobs nobody declared
        or owns (never touched; the metrics count them).

        Without self-heal the policy's ``heal`` is off: the plan applies only changes
        that come from git (``core/plan.py``, ``from_git``) and reports the rest.
        """
        if only is not None:
            # The engine plans every job of the snapshot it is given: give it only these.
            snapshot = dataclasses.replace(
                snapshot, jobs=tuple(j for j in snapshot.jobs if j.key in only)
            )
        # New specs supersede a running deployment; healing out-of-band drift waits for it.
        policy = dataclasses.replace(
            self.engine.policy, supersede_only=frozenset(self._pending_files),
            heal=self.settings.self_heal,
        )  # fmt: skip
        try:
            result = await self.engine.reconcile(
                snapshot, only=only, prune_history=self._prune_history(), policy=policy,
                promotions=self.tracker.promotion_facts(),
            )  # fmt: skip
        except NomadError as exc:
            self._set_nomad_error(exc)
            self.metrics.observe_reconcile_error(exc)
            raise
        self._set_nomad_ok()
        return {o.key: o for o in result.outcomes}, result.plan.unmanaged_keys

    def _wave_of(self, key: JobKey) -> int:
        desired = self._declared.get(key)
        try:
            return parse_wave(desired.canonical.get("Meta") if desired else None)
        except ValueError:
            return 0  # the engine reports the bad value against the file

    def _defer(self, keys: set[JobKey], parked: Mapping[JobKey, tuple[str, str]]) -> set[JobKey]:
        """File changes among ``keys`` that must wait for a lower wave or the deployment cap."""
        changed = {k: self._wave_of(k) for k in keys if k in self._pending_files}
        if not changed:
            return set()
        deploying = {k for k in changed
                     if k in self._declared and expects_deployment(self._declared[k].canonical)}
        deferrals = defer_changes(
            changed, deploying=deploying,
            rolling={k: t.wave for k, t in self._tracking.items()},
            held={k: self._wave_of(k) for k, (state, _r) in parked.items() if state == "held"},
            cap=self.settings.max_concurrent_deployments,
        )  # fmt: skip
        for key, deferral in deferrals.items():
            if self._deferred.get(key) != deferral:
                log.info("change deferred", extra=_fields(
                    key, reason=deferral.reason, detail=deferral.detail))
            self._deferred[key] = deferral
            self.metrics.set_job_state(key, "held", held_reason=deferral.reason)
        return set(deferrals)

    def _release_deferred_after(self, outcomes: Iterable[JobOutcome]) -> None:
        """A registration went through (a lower wave may be done): retry deferred changes."""
        if self._deferred and any(
            o.result in (SyncResult.CREATED, SyncResult.UPDATED) and o.key not in self._tracking
            for o in outcomes
        ):
            self._release_deferred()

    def _release_deferred(self) -> None:
        if self._deferred:
            keys = list(self._deferred)
            self._deferred.clear()
            self._submit(keys, Reason.FILE)

    def _may_promote(self, desired: Any) -> bool:
        """A canary job with a promotion policy (the only rollouts the daemon acts on)."""
        canon = desired.canonical
        return (
            expects_deployment(canon) and expects_canaries(canon)
            and soak_or_none(canon.get("Meta"), default=self.settings.promote_after) is not None
        )  # fmt: skip

    def _forget(self, key: JobKey) -> None:
        """A job gone from the checkout and from Nomad: drop everything kept about it."""
        self._pending_files.discard(key)
        self._drop_rejection(key)
        for table in (self._changed_at, self._drift_at, self._known_index, self._tracking,
                      self._deployment_events, self._deferred, self._absent_since):
            table.pop(key, None)
        self._reported_orphans.discard(key)
        self._cancel_rollout_check(key)
        heal_timer = self._heal_timers.pop(key, None)
        if heal_timer is not None:
            heal_timer.cancel()
        self.tracker.forget(key)
        self.metrics.forget_job(key)

    def _drop_rejection(self, key: JobKey) -> None:
        rejected = self._rejected.pop(key, None)
        if rejected is not None and rejected.timer is not None:
            rejected.timer.cancel()

    def _reject(self, key: JobKey, digest: str, message: str) -> float:
        """Park a spec Nomad refused for the file's sake; returns the delay before the slow retry."""
        previous = self._rejected.get(key)
        attempts = (
            previous.attempts + 1 if previous is not None and previous.digest == digest else 1
        )
        self._drop_rejection(key)
        delays = self.settings.rejected_backoffs or (3600.0,)
        delay = delays[min(attempts, len(delays)) - 1]

        def retry() -> None:
            rejected = self._rejected.get(key)
            if rejected is not None:
                rejected.timer = None
            self._submit([key], Reason.RESYNC)

        timer = asyncio.get_running_loop().call_later(delay, retry)
        self._rejected[key] = _Rejection(digest, message, attempts, time.monotonic() + delay, timer)
        return delay

    def _state_of(self, outcome: JobOutcome) -> str:
        if outcome.result in (SyncResult.CREATED, SyncResult.UPDATED, SyncResult.PROMOTED):
            return "in_sync"
        if outcome.result is SyncResult.FAILED:
            return "error"
        if outcome.result is SyncResult.HELD:
            return "held"
        if outcome.result is SyncResult.PRUNED:
            return "orphaned"
        return str(outcome.action.drift.state.value)

    def _record_outcomes(
        self, outcomes: Iterable[JobOutcome], snapshot: Snapshot,
        *, drift_keys: set[JobKey] | frozenset[JobKey] = frozenset(),
    ) -> dict[JobKey, Result]:
        """Log, count and remember what the engine did; map it to queue results."""
        outcomes = list(outcomes)
        now = time.monotonic()
        results: dict[JobKey, Result] = {}
        prune_held = False
        for out in outcomes:
            key = out.key
            self._count_refused_attempt(out)
            state = self._state_of(out)
            if state != "unmanaged":
                self.metrics.set_job_state(
                    key,
                    state,
                    held_reason=held_reason_of(out) if state == "held" else None,
                    error_cause=out.error.cause.value if out.error is not None else None,
                )
            drift_at = self._drift_at.pop(key, None)
            drifted = out.action.drift.state in (
                DriftState.MODIFIED, DriftState.MISSING, DriftState.ORPHANED)
            # Only out-of-band drift counts: an event for our own in-flight write (its
            # index is learnt from the response, after the event) is not a detection,
            # and neither is creating a job this process never saw in sync (start-up,
            # or an event replayed from before it started): nothing drifted from a
            # state it knew.
            seen_in_sync = key in self._known_index
            if drift_at is not None and drifted and key in drift_keys and seen_in_sync:
                self.metrics.observe_drift_detected(max(time.time() - drift_at, 0.0))
            if out.result in (SyncResult.CREATED, SyncResult.UPDATED):
                results[key] = self._registered(key, out, now)
            elif out.result is SyncResult.PRUNED:
                op = "purge" if out.action.purge else "stop"
                self.metrics.observe_sync_operation(op, "success")
                log.info("pruned", extra=_fields(key, operation=op))
                self._pending_files.discard(key)
                self._pruned_at.append(time.time())  # counts against --max-prune for a window
                self._absent_since.pop(key, None)
            elif out.result is SyncResult.FAILED:
                results[key] = self._failed(key, out)
            elif out.action.unhealed:
                self._known_index.pop(key, None)
                log.warning("drift (not healed: --no-self-heal)", extra=_fields(
                    key, state=out.action.drift.state.value, change=out.action.reason))
            elif out.result is SyncResult.HELD:
                # Still pending: a hold ends (deployment cap, wave) and the change goes on.
                log.info("held", extra=_fields(key, reason=out.message or out.action.reason))
                if out.action.desired is None and out.action.hold_reason is HoldReason.GUARD:
                    # An orphan a prune guard holds: its grace period runs from now.
                    self._absent_since.setdefault(key, time.time())
                    prune_held = True
                elif out.action.hold_reason is HoldReason.ACTIVE_DEPLOYMENT:
                    self._heal_after_deployment(key)
            else:  # unchanged, or promoted (a rollout's step: the job is in sync)
                if out.result is SyncResult.PROMOTED:
                    self._promoted(key, out)
                live = out.action.live
                self._report_orphan(out)
                if out.action.drift.state is DriftState.IN_SYNC and live is not None:
                    self._known_index[key] = live.job_modify_index
                    if self._is_current(out):
                        self._pending_files.discard(key)
                        self._changed_at.pop(key, None)
                if out.action.kind is ActionKind.PROMOTE or (
                    live is not None and live.active_deployment is not None
                ):
                    self._submit([key], Reason.ROLLOUT)
        if prune_held:
            self._schedule_prune_recheck(snapshot)
        self.observer.outcomes_recorded(outcomes)
        return results

    def _prune_history(self) -> PruneHistory:
        """The memory the prune guards decide from (``reconciler.core.prune``)."""
        cutoff = time.time() - self.settings.prune_window
        self._pruned_at = [at for at in self._pruned_at if at > cutoff]
        return PruneHistory(absent_since=dict(self._absent_since), pruned_at=tuple(self._pruned_at))

    def _schedule_prune_recheck(self, snapshot: Snapshot) -> None:
        """Look again when a prune guard may let go: the checkout settled (re-read it
        each second), a grace period ends, or a prune leaves the window."""
        now = time.time()
        s = self.settings
        due = [at + s.prune_grace - now for at in self._absent_since.values()]
        due += [at + s.prune_window - now for at in self._pruned_at]
        if snapshot.revision is not None and snapshot.revision.busy:
            due.append(1.0)
        due = [d for d in due if d > 0]
        if not due:
            return
        delay = max(min(due), 0.2)
        if self._prune_recheck is not None:
            self._prune_recheck.cancel()

        def recheck() -> None:
            self._prune_recheck = None
            self._spawn(self._recheck_prunes(), "prune-recheck")

        self._prune_recheck = asyncio.get_running_loop().call_later(delay, recheck)

    async def _recheck_prunes(self) -> None:
        await self._rescan()  # a fresh snapshot: never prune from the one that was held
        snapshot = self.snapshot
        busy = bool(snapshot and snapshot.revision and snapshot.revision.busy)
        log.debug("prune guards re-check", extra={"fields": {"checkout_busy": busy}})
        if busy and snapshot is not None:
            self._schedule_prune_recheck(snapshot)  # git is still at it: look again later
            return
        self._submit([ALL], Reason.RESYNC)

    def _report_orphan(self, out: JobOutcome) -> None:
        """Say once, per job, that a job whose file is gone keeps running, and how to stop it."""
        key, live = out.key, out.action.live
        orphan = (
            out.action.drift.state is DriftState.ORPHANED and live is not None and not live.stop
        )
        if not orphan:
            self._reported_orphans.discard(key)
            return
        if key in self._reported_orphans:
            return
        self._reported_orphans.add(key)
        ownership = read_ownership(live.meta if live else None)
        source = ownership.source if ownership else "?"
        log.warning(
            f"job {key[1]} is no longer declared (its file {source} was removed); it keeps "
            "running; run with --prune to stop it",
            extra=_fields(key, file=source, state="orphaned"),
        )

    def _is_current(self, out: JobOutcome) -> bool:
        """Did this outcome concern the job's current spec (not one replaced meanwhile)?"""
        desired = out.action.desired
        current = self._declared.get(out.key)
        if desired is None or current is None:
            return desired is None and current is None
        return bool(desired.digest == current.digest)

    def _count_refused_attempt(self, out: JobOutcome) -> None:
        """A register Nomad refused with an index conflict before the engine re-planned.

        The refused write is counted as such, whatever came of the re-plan (a write
        with the job's current index, or nothing because the job now matches).
        """
        if not out.conflict_retried or out.result is SyncResult.FAILED:
            return  # a failed outcome is counted once, with its own error
        op = "create" if out.action.create else "update"
        self.metrics.observe_sync_operation(op, OperationResult.CONFLICT.value)
        log.warning("Nomad refused the write: the job changed in Nomad meanwhile; re-planned",
                    extra=_fields(out.key, operation=op, result=out.result.value))

    def _registered(self, key: JobKey, out: JobOutcome, now: float) -> Result:
        op = "create" if out.result is SyncResult.CREATED else "update"
        self.metrics.observe_sync_operation(op, "success")
        accepted = out.accepted_at or now
        latency = None
        if self._is_current(out):
            # The registered spec is the file's current one: the change has landed.
            changed_at = self._changed_at.pop(key, None)
            if changed_at is not None and key in self._pending_files:
                latency = max(accepted - changed_at, 0.0)
                self.metrics.observe_change_registered(latency)
            self._pending_files.discard(key)
        if out.job_modify_index:
            self._known_index[key] = out.job_modify_index
        desired = out.action.desired
        log.info("registered", extra=_fields(
            key, operation=op, file=desired.path if desired else None,
            job_modify_index=out.job_modify_index, change=out.action.reason[:200],
            latency_s=round(latency, 3) if latency is not None else None))
        if desired is not None and expects_deployment(desired.canonical):
            self._tracking[key] = _Tracking(
                job_modify_index=out.job_modify_index or 0, digest=desired.digest,
                registered_at=now, revision=self.revision.commit if self.revision else None,
                wave=self._wave_of(key),
            )  # fmt: skip
            self._schedule_rollout_check(key, min(self.settings.rollout_poll, 0.5))
        return None

    def _promoted(self, key: JobKey, out: JobOutcome) -> None:
        dep_id = out.action.deployment_id or ""
        self.tracker.mark_promoted(key, dep_id)  # one promote per deployment, whatever asks
        self.metrics.observe_sync_operation("promote", "success")
        log.info("promoted canaries", extra=_fields(
            key, deployment=dep_id[:8], reason=out.action.reason))

    def _failed(self, key: JobKey, out: JobOutcome) -> Result:
        error = out.error
        if out.action.kind is ActionKind.PROMOTE and error is not None:
            # Counted and said as what it is; the promotion pass is retried with backoff.
            self.metrics.observe_sync_operation("promote", OperationResult.from_error(error).value)
            self.metrics.observe_reconcile_error(error)
            log.warning("promoting canaries failed; will retry", extra=_fields(
                key, deployment=(out.action.deployment_id or "")[:8], error=str(error)))
            return error
        op = {
            ActionKind.DEREGISTER: "purge" if out.action.purge else "stop",
            ActionKind.PROMOTE: "promote",
        }.get(out.action.kind, "create" if out.action.create else "update")
        if error is not None:
            self.metrics.observe_sync_operation(op, OperationResult.from_error(error).value)
            self.metrics.observe_reconcile_error(error)
            if error.cause is ErrorCause.CLUSTER:
                # Caused by the cluster (unavailable, a missing namespace, ACL, a conflict,
                # an unrecognised 500): the same file may pass, so retry with backoff (and
                # every full pass).  Cluster-wide state (readiness, the recovery resync)
                # follows cluster reads and the event stream, not one job's write.
                log.warning(
                    "retrying (cluster): Nomad did not take the job",
                    extra=_fields(key, cause=error.cause.value, error=str(error)),
                )
                return error
        desired = out.action.desired
        if error is not None and desired is not None:
            # Follows from the file: the same spec would be refused again.  Wait for the
            # file to change, retrying only slowly (the server may change).
            delay = self._reject(key, desired.digest, out.message)
            log.error(
                "rejected (fix the file)",
                extra=_fields(
                    key,
                    cause=ErrorCause.FILE.value,
                    file=desired.path,
                    error=out.message,
                    retry_in_s=round(delay, 1),
                ),
            )
            return Outcome.FAILED
        log.error("job failed", extra=_fields(key, error=out.message))
        return Outcome.FAILED

    async def _check_rollout(self, key: JobKey) -> None:
        """Read the job's latest deployment and act on it (promote, hold, report)."""
        tracking = self._tracking.get(key)
        now_mono = time.monotonic()
        dep: dict[str, Any] | None
        cached = self._deployment_events.pop(key, None)
        if (
            cached is not None
            and tracking is not None
            and int(cached.get("JobSpecModifyIndex") or 0) == tracking.job_modify_index
        ):
            dep = cached  # fresh from the event stream, about our own registration
        elif tracking is None:
            # Not a deployment of ours (it began before this process, or elsewhere): what
            # Nomad says now, never an event payload that may predate a later change.
            dep = await self.client.job_latest_deployment(key[1], namespace=key[0])
        else:
            # The deployment of *our* registration, not merely the latest: after an
            # auto-revert the latest is the rollback's, and ours is the failed one.
            deployments = await self.client.job_deployments(key[1], namespace=key[0])
            dep = next((d for d in deployments
                        if int(d.get("JobSpecModifyIndex") or 0) == tracking.job_modify_index),
                       None)
        self._set_nomad_ok()
        if dep is None:
            if tracking is not None and now_mono - tracking.registered_at < ROLLOUT_APPEAR_TIMEOUT_S:
                self._schedule_rollout_check(key, self.settings.rollout_poll)
            elif self._tracking.pop(key, None) is not None:
                self._release_deferred()
            return
        desired = self._declared.get(key)
        try:
            soak = promotion_soak(
                desired.canonical.get("Meta") if desired else None,
                default=self.settings.promote_after,
            )
        except ConfigError as exc:
            log.error("bad promotion policy", extra=_fields(
                key, file=desired.path if desired else None, error=str(exc)))
            soak = None
        # On the engine's clock: its plan reads the soak clock too.
        update = self.tracker.observe(
            key, dep, now=self.clock(), soak=soak,
            digest=tracking.digest if tracking is not None else None,
        )  # fmt: skip
        self.metrics.observe_deployment(key, dep)
        self.observer.deployment_observed(key, dep, update.phase.value)
        if update.phase is RolloutPhase.AWAITING_PROMOTION and desired is not None and (
            canaries_all_healthy(dep)
        ):
            # Canary analysis: never promote unless it passed; fail the deployment on a breach.
            gate = await self.analysis.gate(
                key, dep, desired, catalog=self._analysis_catalog,
                allocations=self.client.deployment_allocations,
            )  # fmt: skip
            if gate is None:
                self.tracker.set_analysis(key, update.deployment_id, NO_ANALYSIS)
            elif gate.passed:
                self.tracker.set_analysis(key, update.deployment_id, Analysis(
                    AnalysisState.PASSED, gate.reason))
            else:
                self.tracker.set_analysis(key, update.deployment_id, Analysis(
                    AnalysisState.WAITING, gate.reason))
            if gate is not None and gate.failed:
                await self.client.fail_deployment(update.deployment_id, namespace=key[0])
                self.tracker.hold(key, tracking.digest if tracking else desired.digest, gate.reason)
                log.warning("analysis failed the canaries: deployment failed, Nomad rolls back",
                            extra=_fields(key, deployment=update.deployment_id[:8],
                                          reason=gate.reason))  # fmt: skip
                self._schedule_rollout_check(key, 0.0)
                return
            if gate is not None and not gate.passed:
                waits = [d for d in (update.recheck_in, gate.recheck_in) if d is not None]
                update = dataclasses.replace(
                    update, promote=False, recheck_in=min(waits) if waits else None,
                    reason=gate.reason)  # fmt: skip
        if update.superseded:
            log.info("rollout superseded", extra=_fields(key, deployment=update.superseded[:8]))
        if update.changed:
            level = logging.WARNING if update.phase is RolloutPhase.FAILED else logging.INFO
            log.log(level, f"rollout {update.phase.value.replace('_', ' ')}", extra=_fields(
                key, deployment=update.deployment_id[:8], description=update.description,
                reason=update.reason or None))
        if update.promote:
            # A write like any other: the engine plans the PROMOTE in a pass about this job
            # (pass lock, one worker per job), from a fresh read and the tracker's memory.
            self._submit([key], Reason.PROMOTE)
            return
        if update.phase.terminal:
            self.metrics.clear_analysis(key)
            self.analysis.forget(key, update.deployment_id)
            self._cancel_rollout_check(key)  # a safety re-check may still be pending
            finished = self._tracking.pop(key, None)
            self._release_deferred()  # a later wave or a capped change may go now
            if update.phase is RolloutPhase.SUCCESSFUL and finished and finished.revision:
                seen = self._revision_seen.get(finished.revision)
                if seen is not None:
                    self.metrics.observe_commit_to_healthy(max(time.time() - seen, 0.0))
            if update.phase is RolloutPhase.FAILED:
                self.metrics.set_job_state(
                    key, "held", held_reason=HoldReason.FAILED_ROLLOUT.value)
            return
        delay = self.settings.rollout_poll
        if self._stream_connected:
            # Deployment events wake the check; polling is only the safety net.
            delay = max(delay, STREAM_ROLLOUT_POLL_S)
        if update.recheck_in is not None:
            delay = min(delay, update.recheck_in)
        self._schedule_rollout_check(key, delay)


def check_startup_config(settings: DaemonSettings) -> None:
    """Fail fast on configuration that can only be wrong: raise ``ConfigError``.

    The token file and the ``--var-file`` files must be readable at start.  Later,
    a token file briefly missing mid-rotation keeps the last token (``TokenSource``),
    and Nomad being unreachable is retried: those are not configuration errors.
    """
    cfg = nomad_config(settings)
    TokenSource(token=cfg.token, token_file=cfg.token_file).current()
    for var_file in settings.var_files:
        try:
            with open(var_file, "rb"):
                pass
        except OSError as exc:
            raise ConfigError(f"variables file {var_file}: cannot read it ({exc.strerror})") from exc


def run_daemon(settings: DaemonSettings, *, env: Mapping[str, str],
               flags: Mapping[str, Any] | None = None) -> int:
    """Synchronous entry for the CLI: logging, then the loop until a signal."""
    secret_filter = configure_logging(
        fmt=settings.log_format, level=settings.log_level,
        secrets=[settings.nomad.token, *(settings.nomad.http_auth or ())[1:]],
    )  # fmt: skip
    observer = None
    if settings.listen and settings.ui:
        from reconciler.statuspage.app import StatusPage

        observer = StatusPage(settings)  # reads its credentials now: a bad file stops here

    async def main() -> int:
        # Built on the loop: its queue, debouncer and client belong to it.
        daemon = Daemon(settings, env=env, flags=flags, secret_filter=secret_filter,
                        observer=observer)
        return await daemon.run()

    return asyncio.run(main())
