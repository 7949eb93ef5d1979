"""Loading the checkout: the committed state of the jobs directory into a ``Snapshot``.

What is applied (``revision.py``: the clean checkout, a copy of ``HEAD``'s
tree, or the working tree with ``--apply-uncommitted``), the analysis
templates beside the jobs, the revision and load errors reported, and the
jobs whose digests moved submitted (``FILE``).  ``Checkout`` is also what the
other parts read of the checkout: the snapshot, the jobs it declares, the
revision, the analysis templates.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import tempfile
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from reconciler.config.groups import DaemonSettings
from reconciler.core.analysis_templates import AnalysisCatalog, build_catalog
from reconciler.core.ownership import parse_wave
from reconciler.daemon.debounce import ParseErrorGate
from reconciler.daemon.due import ALL, Reason, Submit
from reconciler.daemon.hooks import DaemonObserver
from reconciler.daemon.memory import JobMemory
from reconciler.daemon.watcher import JobsDirWatcher
from reconciler.jobspec.analysis_files import read_analysis_files
from reconciler.jobspec.loader import LoadCache
from reconciler.model import DesiredJob, JobKey, Revision, Snapshot
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.revision import (
    JobsSource,
    SourceKind,
    checkout_busy,
    read_revision,
    resolve_jobs_source,
)
from reconciler.sync.outcome import JobOutcome

log = logging.getLogger("reconciler.daemon")

REVISIONS_KEPT = 256  # first-seen times kept for commit-to-healthy

Spawn = Callable[[Coroutine[Any, Any, Any], str], None]


class Checkout:
    """The checkout as last loaded, and its (re)loading."""

    def __init__(
        self, settings: DaemonSettings, *, env: Mapping[str, str], memory: JobMemory,
        metrics: ReconcilerMetrics, observer: DaemonObserver, submit: Submit, spawn: Spawn,
    ) -> None:  # fmt: skip
        self.settings = settings
        self._env = env
        self._memory = memory
        self._metrics = metrics
        self._observer = observer
        self._submit = submit
        self._spawn = spawn
        self.snapshot: Snapshot | None = None
        self.declared: Mapping[JobKey, DesiredJob] = {}  # the current snapshot's jobs by key
        self.analysis_catalog = AnalysisCatalog()  # the checkout's analysis templates
        self.revision: Revision | None = None
        self.gate = ParseErrorGate(settle=settings.timing.settle)
        self.watcher: JobsDirWatcher | None = None  # set by the composition root's run()
        self.committed_dir: str | None = None  # copies of committed trees (dirty checkouts)
        self._event_at: dict[str, float] = {}  # path -> monotonic time of its first event
        self._revision_seen: dict[str, float] = {}  # commit → wall time first seen
        self._reported_errors: frozenset[tuple[str, str]] = frozenset()
        self._recheck: asyncio.TimerHandle | None = None
        self._load_lock = asyncio.Lock()
        self._source: JobsSource | None = None  # what the latest load read (committed or not)
        self._cache = LoadCache()  # the loader's content-hash cache

    def adopt(self, snapshot: Snapshot) -> None:
        """The checkout is now this snapshot."""
        self.snapshot = snapshot
        self.declared = snapshot.by_key()

    def loaded(self) -> Snapshot:
        """The checkout as last loaded (a snapshot is never unloaded once there)."""
        assert self.snapshot is not None
        return self.snapshot

    def is_current(self, out: JobOutcome) -> bool:
        """Did this outcome concern the job's current spec (not one replaced meanwhile)?"""
        desired = out.action.desired
        current = self.declared.get(out.key)
        if desired is None or current is None:
            return desired is None and current is None
        return bool(desired.digest == current.digest)

    def wave_of(self, key: JobKey) -> int:
        desired = self.declared.get(key)
        try:
            return parse_wave(desired.canonical.get("Meta") if desired else None)
        except ValueError:
            return 0  # the engine reports the bad value against the file

    def revision_seen_at(self, commit: str) -> float | None:
        """When this process first saw the commit (wall time), if it still remembers."""
        return self._revision_seen.get(commit)

    def note_file_events(self, paths: set[str], now: float) -> None:
        """Remember when each path first changed: a change's latency starts there."""
        for path in paths:
            self._event_at.setdefault(path, now)

    def cancel(self) -> None:
        """Shutting down: the load-error re-check must not fire."""
        if self._recheck is not None:
            self._recheck.cancel()

    async def _load(self) -> Snapshot:
        from reconciler.jobspec.loader import load_directory
        from reconciler.jobspec.variables import VariableInputs

        # Only NOMAD_VAR_* matter, and the loader fingerprints the env it is given.
        var_env = {k: v for k, v in self._env.items() if k.startswith("NOMAD_VAR_")}
        inputs = VariableInputs(
            cli=self.settings.source.variables, files=self.settings.source.var_files, env=var_env
        )
        root = self.watcher.target if self.watcher is not None else self.settings.source.jobs_dir
        if self.committed_dir is None:
            self.committed_dir = tempfile.mkdtemp(prefix="nomad-reconciler-committed-")
        # Git busy before or after the load: the files may be half checked out.
        busy_before = await checkout_busy(root)
        source = await asyncio.to_thread(
            resolve_jobs_source, root, cache_dir=self.committed_dir,
            uncommitted=self.settings.source.apply_uncommitted,
        )  # fmt: skip
        self._report_source(source)
        snapshot = await asyncio.to_thread(
            load_directory, source.root, inputs=inputs, cache=self._cache,
            max_file_size=self.settings.source.max_file_size,
        )  # fmt: skip
        texts, unread = await asyncio.to_thread(
            read_analysis_files, source.root, max_file_size=self.settings.source.max_file_size)
        self.analysis_catalog = build_catalog(texts, read_errors=unread)
        for problem in self.analysis_catalog.errors:
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

    async def rescan(self, *, initial: bool = False) -> None:
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
            self.adopt(snapshot)
            for key, record in self._memory.items():
                if key in self.declared:
                    record.absent_since = None  # its file came back: never prune it for that
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
            record = self._memory.get_or_create(key)
            record.pending_file = True
            job = new.get(key) or old[key]
            # Latency counts from the first file event, not from this (debounced) pass.
            if record.changed_at is None:
                record.changed_at = self._first_event_at(job.path, default=started)
        for path, at in covered.items():
            if self._event_at.get(path) == at:
                del self._event_at[path]
        if due:
            log.info("job files changed", extra={"fields": {
                "jobs": sorted(f"{ns}/{job}" for ns, job in due)[:20], "count": len(due),
                "revision": snapshot.revision.commit[:12] if snapshot.revision else None}})
            self._submit(due, Reason.FILE, urgent=True)
        if removed and self.settings.policy.prune:
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
        self._metrics.set_revision(revision.commit if revision else None,
                                  revision.dirty if revision else False)
        self._observer.revision_observed(revision)

    def _report_load_errors(self, snapshot: Snapshot) -> None:
        """Report load errors that persisted past the settle time; re-check the others."""
        loop = asyncio.get_running_loop()
        report, recheck_at = self.gate.filter(snapshot.errors, now=loop.time())
        self._metrics.observe_load_errors(report)
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
                recheck_at, lambda: self._spawn(self.rescan(), "settle-recheck")
            )

    def _first_event_at(self, path: str, *, default: float) -> float:
        """When the file at ``path`` (or a directory above it) first changed, for the latency."""
        candidates = [self._event_at.get(path)]
        parent = os.path.dirname(path)
        while parent:
            candidates.append(self._event_at.get(parent))
            parent = os.path.dirname(parent)
        seen = [t for t in candidates if t is not None]
        return min(seen) if seen else default
