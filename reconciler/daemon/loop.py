"""The daemon's composition root: the parts built from ``DaemonSettings`` and wired together.

Responsible for wiring (the queue runs the worker, settled file changes reload
the checkout, Nomad's stream calls the listener), the supervised root tasks
(heartbeat, resync timer, Nomad watch: if one ends or raises, the daemon logs
why and exits non-zero), signals (SIGTERM/SIGINT stop, SIGHUP reloads the
configuration) and shutdown.  Triggers only say *which job* to look at and
*why*; the work always rebuilds the picture from the checkout and from Nomad,
so lost, duplicated or reordered events cannot cause drift.

The parts are collaborators, one module each, built here and given only what
they need (the shared state explicitly: the memory ``memory.JobMemory``, the
queue's ``due.DueJobs.submit``, the settings, the metrics and the observer,
the client or the engine):

- ``startup``: configuration that can only be wrong stops the daemon at start;
- ``supervisor``: the supervised tasks and the stop request;
- ``health``: readiness and Nomad's reachability (a recovery submits ``ALL``);
- ``checkout``: load the committed jobs directory, submit jobs whose digest moved (``FILE``);
- ``timers``, ``deferrals``, ``prunes``: a job's timers, deferred changes, the prune guards' history;
- ``outcomes``: reporting, engine outcomes → logs, metrics, the observer, the memory;
- ``rollouts``: follow deployments, canary analysis, ask for promotion (``PROMOTE``);
- ``worker``: a queue batch → rollout checks, then one engine pass under the pass lock;
- ``triggers``: files (watchdog → debounce) and the timers (``ALL``);
- ``nomad_events``: the event stream's callbacks → the queue (``NOMAD``, ``ROLLOUT``).

Diff, plan (promotion included: ``core/promotion.py``) and apply are the sync
engine's.  The daemon's memory is per process: a restart re-learns everything
from the checkout and Nomad.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping
from typing import Any, Protocol

from reconciler.config.groups import DaemonSettings
from reconciler.config.settings import load_settings, reloaded
from reconciler.config.values import parse_listen_address
from reconciler.core.policy import daemon_policy
from reconciler.daemon.analysis_log import DaemonAnalysis
from reconciler.daemon.checkout import Checkout
from reconciler.daemon.deferrals import Deferrals
from reconciler.daemon.due import ALL, DueJobs, Reason
from reconciler.daemon.health import NomadHealth
from reconciler.daemon.hooks import DaemonObserver
from reconciler.daemon.logging import SecretFilter, configure_logging
from reconciler.daemon.memory import JobMemory
from reconciler.daemon.nomad_events import NomadEvents
from reconciler.daemon.nomad_watch import NomadWatch
from reconciler.daemon.outcomes import OutcomeReporter, held_reason_of
from reconciler.daemon.prunes import PruneGuards
from reconciler.daemon.queue import QueueSettings, WorkQueue
from reconciler.daemon.rollouts import RolloutFollower
from reconciler.daemon.startup import check_startup_config, nomad_config, require_namespace
from reconciler.daemon.supervisor import Supervisor
from reconciler.daemon.timers import JobTimers
from reconciler.daemon.triggers import Triggers
from reconciler.daemon.watcher import JobsDirWatcher
from reconciler.daemon.worker import Worker
from reconciler.errors import (
    ConfigError,
    ReconcilerError,
)
from reconciler.model import JobKey, Revision, Snapshot
from reconciler.nomad.client import NomadClient
from reconciler.nomad.retry import RetryPolicy
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.observability.server import Heartbeat, ObservabilityServer
from reconciler.prometheus import PrometheusClient
from reconciler.prometheus.config import prometheus_config
from reconciler.revision import (
    read_git_dirs,
)
from reconciler.sync.api import ClientApi
from reconciler.sync.engine import Reconciler

__all__ = ["ALL", "Daemon", "Reason", "check_startup_config", "held_reason_of", "nomad_config", "run_daemon"]

log = logging.getLogger("reconciler.daemon")

LIVENESS_MAX_AGE_S = 30.0


class _Configured(Protocol):
    settings: DaemonSettings


class Daemon:
    """The long-running reconciler.  ``await run()`` until ``request_stop()``.

    Read by observers as a ``hooks.DaemonState``: ``settings``, ``snapshot``,
    ``revision``, ``client``, ``metrics``, ``passes``, ``engine``, ``readiness()``.
    """

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
        self.observer = observer = observer or DaemonObserver()  # told what the metrics are told
        self.env = dict(env)
        self.flags = dict(flags or {})
        self.metrics = metrics = metrics or ReconcilerMetrics()
        self.secret_filter = secret_filter
        self.heartbeat = Heartbeat(LIVENESS_MAX_AGE_S)
        self._reload = asyncio.Event()
        clock = time.time  # the engine's clock: its plan reads the soak clock too
        # The parts run() drives; built here (no I/O), so nothing is half-there.
        self.client = NomadClient(
            nomad_config(settings),
            retry=RetryPolicy(attempts=2, initial_backoff=0.1, max_backoff=1.0, max_total=5.0),
            on_request=metrics.observe_nomad_request,
        )
        self.nomad_api = ClientApi(self.client)  # the engine's; notes the first list's index
        self.engine = Reconciler(
            self.nomad_api, daemon_policy(settings), annotate=False, clock=clock,
            on_mismatch=lambda _key, fields: metrics.observe_canonical_mismatch(fields),
        )  # fmt: skip
        # The shared state, passed explicitly to the parts that need it.
        self.memory = memory = JobMemory()  # one record per job: indexes, rollouts, holds, timers
        self.due = due = DueJobs()
        submit = due.submit
        self.supervisor = supervisor = Supervisor()
        self.health = health = NomadHealth(submit)
        self.checkout = checkout = Checkout(
            settings, env=self.env, memory=memory, metrics=metrics, observer=observer,
            submit=submit, spawn=supervisor.spawn,
        )  # fmt: skip
        timers = JobTimers(memory, submit, settings)
        deferrals = Deferrals(settings, memory=memory, checkout=checkout, metrics=metrics,
                              submit=submit)  # fmt: skip
        prunes = PruneGuards(settings, memory=memory, checkout=checkout, submit=submit,
                             spawn=supervisor.spawn)  # fmt: skip
        reporter = OutcomeReporter(
            settings, memory=memory, checkout=checkout, metrics=metrics, observer=observer,
            timers=timers, prunes=prunes, submit=submit,
        )  # fmt: skip
        self.events = events = NomadEvents(
            memory=memory, checkout=checkout, engine=self.engine, metrics=metrics,
            observer=observer, health=health, submit=submit, stopping=lambda: supervisor.stopping,
        )  # fmt: skip
        self.rollouts = rollouts = RolloutFollower(
            settings, client=self.client, memory=memory, checkout=checkout, metrics=metrics,
            observer=observer, timers=timers, deferrals=deferrals, health=health,
            submit=submit, clock=clock, stream_connected=lambda: events.connected,
        )  # fmt: skip
        self.worker = worker = Worker(
            settings, engine=self.engine, memory=memory, checkout=checkout, metrics=metrics,
            observer=observer, reporter=reporter, rollouts=rollouts, deferrals=deferrals,
            prunes=prunes, health=health, due=due,
        )  # fmt: skip
        self.triggers = Triggers(settings, heartbeat=self.heartbeat, checkout=checkout,
                                 submit=submit, spawn=supervisor.spawn)  # fmt: skip
        self._prunes = prunes
        # The parts that read settings: a reload hands them the new ones.
        self._with_settings: tuple[_Configured, ...] = (
            checkout, timers, deferrals, prunes, reporter, rollouts, worker, self.triggers)
        # Wiring: the queue runs the worker; triggers submit to it through ``due``.
        self.queue: WorkQueue[JobKey] = WorkQueue(
            worker.handle_batch,
            settings=QueueSettings(
                backoffs=settings.retry.backoffs, jitter=settings.retry.jitter, max_workers=settings.retry.workers
            ),
            on_outcome=worker.on_queue_outcome,
        )
        due.queue = self.queue

    # What observers read (``hooks.DaemonState``).

    @property
    def snapshot(self) -> Snapshot | None:
        return self.checkout.snapshot

    @property
    def revision(self) -> Revision | None:
        return self.checkout.revision

    @property
    def passes(self) -> int:
        return self.worker.passes

    def readiness(self) -> tuple[bool, str]:
        return self.health.readiness()

    def request_stop(self) -> None:
        self.supervisor.request_stop()

    def request_reload(self) -> None:
        self._reload.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        s = self.settings
        try:
            if not os.path.isdir(s.source.jobs_dir):
                raise ConfigError(f"{s.source.jobs_dir}: jobs directory not found (or not a directory)")
            check_startup_config(s)
            await require_namespace(self.client, s)
        except ConfigError:
            await self.client.aclose()
            raise
        prometheus = prometheus_config(s.analysis, self.env)
        self.rollouts.analysis = DaemonAnalysis(
            PrometheusClient(prometheus) if prometheus is not None else None,
            on_measurement=self.metrics.observe_analysis_measurement,
        )
        self._install_signals(loop)
        server = self._start_server()
        self.checkout.committed_dir = tempfile.mkdtemp(prefix="nomad-reconciler-committed-")
        watcher = JobsDirWatcher(
            s.source.jobs_dir, on_paths=self.triggers.on_file_events,
            on_switch=self.triggers.on_checkout_switched,
            git_dirs=await asyncio.to_thread(read_git_dirs, s.source.jobs_dir),
        )  # fmt: skip
        self.checkout.watcher = self.triggers.watcher = watcher
        watcher.start()
        log.info(
            "daemon started",
            extra={"fields": {"jobs_dir": os.path.abspath(s.source.jobs_dir),
                              "nomad": nomad_config(s).display_address, "self_heal": s.policy.self_heal,
                              "listen": server.url if server else None}},
        )
        try:
            await self.checkout.rescan(initial=True)
            self.due.submit([ALL], Reason.RESYNC)
            spawn, stop = self.supervisor.spawn, self.supervisor.stop
            spawn(self.triggers.tick(), "tick", root=True)
            spawn(self.triggers.resync_timer(), "resync", root=True)
            watch = NomadWatch(self.client, self.events, event_stream=s.process.event_stream,
                               start_index=self.nomad_api.first_list_index)  # issue 10
            spawn(watch.run(), "nomad-watch", root=True)
            while not stop.is_set():
                reload_wait = asyncio.ensure_future(self._reload.wait())
                stop_wait = asyncio.ensure_future(stop.wait())
                await asyncio.wait({reload_wait, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                for fut in (reload_wait, stop_wait):
                    fut.cancel()
                if self._reload.is_set() and not stop.is_set():
                    self._reload.clear()
                    self._apply_reload()
        finally:
            await self._shutdown(server)
        fatal = self.supervisor.fatal
        if fatal is not None:
            if isinstance(fatal, ReconcilerError):
                raise fatal  # the CLI prints the reason and exits 1
            return 1
        return 0

    async def _shutdown(self, server: ObservabilityServer | None) -> None:
        log.info("shutting down", extra={"fields": {"timeout_s": self.settings.timing.shutdown_timeout}})
        if self.triggers.watcher is not None:
            self.triggers.watcher.stop()
        self.triggers.debouncer.cancel()
        self.memory.cancel_timers()
        self.checkout.cancel()
        self._prunes.cancel()
        await self.supervisor.cancel_all()
        finished = await self.queue.close(timeout=self.settings.timing.shutdown_timeout)
        if not finished:
            log.warning("in-flight work cancelled at shutdown timeout")
        await self.rollouts.analysis.aclose()
        await self.client.aclose()
        if server is not None:
            server.stop()
        if self.checkout.committed_dir is not None:
            shutil.rmtree(self.checkout.committed_dir, ignore_errors=True)
        log.info("stopped", extra={"fields": {"clean": finished}})

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)

    def _start_server(self) -> ObservabilityServer | None:
        if not self.settings.process.listen:
            return None
        host, port = parse_listen_address(self.settings.process.listen)
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
        self.settings, applied, restart = reloaded(self.settings, new)
        if "source.apply_uncommitted" in applied:
            self.supervisor.spawn(self.checkout.rescan(), "rescan")  # what may be applied changed
        for part in self._with_settings:
            part.settings = self.settings
        self.engine.policy = daemon_policy(self.settings)
        self.queue.settings = QueueSettings(
            backoffs=self.settings.retry.backoffs, jitter=self.settings.retry.jitter,
            max_workers=self.settings.retry.workers,
        )  # fmt: skip
        self.triggers.debouncer.quiet = self.settings.timing.debounce
        self.triggers.debouncer.max_delay = self.settings.timing.debounce_max
        self.checkout.gate.settle = self.settings.timing.settle
        logging.getLogger("reconciler").setLevel(self.settings.process.log_level.upper())
        log.info("configuration reloaded", extra={"fields": {
            "applied": sorted(applied), "needs_restart": sorted(restart)}})
        self.due.submit([ALL], Reason.RESYNC)


def run_daemon(settings: DaemonSettings, *, env: Mapping[str, str],
               flags: Mapping[str, Any] | None = None) -> int:
    """Synchronous entry for the CLI: logging, then the loop until a signal."""
    secret_filter = configure_logging(
        fmt=settings.process.log_format, level=settings.process.log_level,
        secrets=[settings.nomad.token, *(settings.nomad.http_auth or ())[1:]],
    )  # fmt: skip
    observer = None
    if settings.process.listen and settings.ui.enabled:
        from reconciler.statuspage.app import StatusPage

        observer = StatusPage(settings)  # reads its credentials now: a bad file stops here

    async def main() -> int:
        # Built on the loop: its queue, debouncer and client belong to it.
        daemon = Daemon(settings, env=env, flags=flags, secret_filter=secret_filter,
                        observer=observer)
        return await daemon.run()

    return asyncio.run(main())

