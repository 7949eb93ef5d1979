"""The daemon's composition root: the parts built from ``DaemonSettings`` and wired together.

Responsible for wiring (the queue runs the worker, settled file changes reload
the checkout, Nomad's stream calls the listener), the supervised root tasks
(heartbeat, resync timer, Nomad watch: if one ends or raises, the daemon logs
why and exits non-zero), signals (SIGTERM/SIGINT stop, SIGHUP reloads the
configuration) and shutdown.  Triggers only say *which job* to look at and
*why*; the work always rebuilds the picture from the checkout and from Nomad,
so lost, duplicated or reordered events cannot cause drift.

The parts, one module each, build on ``base.DaemonBase`` (the daemon's memory
and shared verbs) in one chain:

- ``checkout``: load the committed jobs directory, submit jobs whose digest moved (``FILE``);
- ``prunes``: the prune guards' history and re-checks;
- ``outcomes``: engine outcomes → logs, metrics, the observer, the memory;
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
from collections.abc import Mapping
from typing import Any

from reconciler.config.groups import DaemonSettings
from reconciler.config.settings import load_settings, reloaded
from reconciler.config.values import parse_listen_address
from reconciler.core.policy import daemon_policy
from reconciler.daemon.analysis_log import DaemonAnalysis
from reconciler.daemon.base import ALL, Reason, held_reason_of, log, nomad_config
from reconciler.daemon.debounce import Debouncer
from reconciler.daemon.hooks import DaemonObserver
from reconciler.daemon.logging import SecretFilter, configure_logging
from reconciler.daemon.nomad_events import NomadEvents
from reconciler.daemon.nomad_watch import NomadWatch
from reconciler.daemon.queue import QueueSettings, WorkQueue
from reconciler.daemon.watcher import JobsDirWatcher
from reconciler.errors import (
    ConfigError,
    NomadError,
    ReconcilerError,
)
from reconciler.model import JobKey
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.observability.server import ObservabilityServer
from reconciler.prometheus import PrometheusClient
from reconciler.prometheus.config import prometheus_config
from reconciler.revision import (
    read_git_dirs,
)
from reconciler.sync.session import require_namespaces
from reconciler.token_file import TokenSource

__all__ = ["ALL", "Daemon", "Reason", "check_startup_config", "held_reason_of", "nomad_config", "run_daemon"]


class Daemon(NomadEvents):
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
        super().__init__(settings, env=env, flags=flags, metrics=metrics,
                         secret_filter=secret_filter, observer=observer)
        # Wiring: the queue runs the worker, settled file changes reload the checkout.
        self.queue: WorkQueue[JobKey] = WorkQueue(
            self._handle_batch,
            settings=QueueSettings(
                backoffs=settings.retry.backoffs, jitter=settings.retry.jitter, max_workers=settings.retry.workers
            ),
            on_outcome=self._on_queue_outcome,
        )
        self.debouncer = Debouncer(
            self._on_files_settled, quiet=settings.timing.debounce, max_delay=settings.timing.debounce_max
        )

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        s = self.settings
        try:
            if not os.path.isdir(s.source.jobs_dir):
                raise ConfigError(f"{s.source.jobs_dir}: jobs directory not found (or not a directory)")
            check_startup_config(s)
        except ConfigError:
            await self.client.aclose()
            raise
        await self._require_namespace()
        prometheus = prometheus_config(s.analysis, self.env
        )  # fmt: skip
        self.analysis = DaemonAnalysis(
            PrometheusClient(prometheus) if prometheus is not None else None,
            on_measurement=self.metrics.observe_analysis_measurement,
        )
        self._install_signals(loop)
        server = self._start_server()
        self._committed_dir = tempfile.mkdtemp(prefix="nomad-reconciler-committed-")
        self.watcher = watcher = JobsDirWatcher(
            s.source.jobs_dir, on_paths=self._on_file_events, on_switch=self._on_checkout_switched,
            git_dirs=await asyncio.to_thread(read_git_dirs, s.source.jobs_dir),
        )  # fmt: skip
        watcher.start()
        log.info(
            "daemon started",
            extra={"fields": {"jobs_dir": os.path.abspath(s.source.jobs_dir),
                              "nomad": nomad_config(s).display_address, "self_heal": s.policy.self_heal,
                              "listen": server.url if server else None}},
        )
        try:
            await self._rescan(initial=True)
            self._submit([ALL], Reason.RESYNC)
            self._spawn(self._tick(), "tick", root=True)
            self._spawn(self._resync_timer(), "resync", root=True)
            watch = NomadWatch(self.client, self, event_stream=s.process.event_stream,
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
        log.info("shutting down", extra={"fields": {"timeout_s": self.settings.timing.shutdown_timeout}})
        if self.watcher is not None:
            self.watcher.stop()
        self.debouncer.cancel()
        self.memory.cancel_timers()
        if self._recheck is not None:
            self._recheck.cancel()
        if self._prune_recheck is not None:
            self._prune_recheck.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        finished = await self.queue.close(timeout=self.settings.timing.shutdown_timeout)
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
            self._spawn(self._rescan(), "rescan")  # what may be applied changed
        self.engine.policy = daemon_policy(self.settings)
        self.queue.settings = QueueSettings(
            backoffs=self.settings.retry.backoffs, jitter=self.settings.retry.jitter,
            max_workers=self.settings.retry.workers,
        )  # fmt: skip
        self.debouncer.quiet = self.settings.timing.debounce
        self.debouncer.max_delay = self.settings.timing.debounce_max
        self.gate.settle = self.settings.timing.settle
        logging.getLogger("reconciler").setLevel(self.settings.process.log_level.upper())
        log.info("configuration reloaded", extra={"fields": {
            "applied": sorted(applied), "needs_restart": sorted(restart)}})
        self._submit([ALL], Reason.RESYNC)


def check_startup_config(settings: DaemonSettings) -> None:
    """Fail fast on configuration that can only be wrong: raise ``ConfigError``.

    The token file and the ``--var-file`` files must be readable at start.  Later,
    a token file briefly missing mid-rotation keeps the last token (``TokenSource``),
    and Nomad being unreachable is retried: those are not configuration errors.
    """
    cfg = nomad_config(settings)
    TokenSource(token=cfg.token, token_file=cfg.token_file).current()
    for var_file in settings.source.var_files:
        try:
            with open(var_file, "rb"):
                pass
        except OSError as exc:
            raise ConfigError(f"variables file {var_file}: cannot read it ({exc.strerror})") from exc


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

