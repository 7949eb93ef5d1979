"""Loading the checkout: the committed state of the jobs directory into a ``Snapshot``.

What is applied (``revision.py``: the clean checkout, a copy of ``HEAD``'s
tree, or the working tree with ``--apply-uncommitted``), the analysis
templates beside the jobs, the revision and load errors reported, and the
jobs whose digests moved submitted (``FILE``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import tempfile
import time

from reconciler.core.analysis_templates import build_catalog
from reconciler.daemon.base import ALL, REVISIONS_KEPT, DaemonBase, Reason
from reconciler.jobspec.analysis_files import read_analysis_files
from reconciler.model import Revision, Snapshot
from reconciler.revision import (
    JobsSource,
    SourceKind,
    checkout_busy,
    read_revision,
    resolve_jobs_source,
)

log = logging.getLogger("reconciler.daemon")


class Checkout(DaemonBase):
    async def _load(self) -> Snapshot:
        from reconciler.jobspec.loader import load_directory
        from reconciler.jobspec.variables import VariableInputs

        # Only NOMAD_VAR_* matter, and the loader fingerprints the env it is given.
        var_env = {k: v for k, v in self.env.items() if k.startswith("NOMAD_VAR_")}
        inputs = VariableInputs(
            cli=self.settings.source.variables, files=self.settings.source.var_files, env=var_env
        )
        root = self.watcher.target if self.watcher is not None else self.settings.source.jobs_dir
        if self._committed_dir is None:
            self._committed_dir = tempfile.mkdtemp(prefix="nomad-reconciler-committed-")
        # Git busy before or after the load: the files may be half checked out.
        busy_before = await checkout_busy(root)
        source = await asyncio.to_thread(
            resolve_jobs_source, root, cache_dir=self._committed_dir,
            uncommitted=self.settings.source.apply_uncommitted,
        )  # fmt: skip
        self._report_source(source)
        snapshot = await asyncio.to_thread(
            load_directory, source.root, inputs=inputs, cache=self._cache,
            max_file_size=self.settings.source.max_file_size,
        )  # fmt: skip
        texts, unread = await asyncio.to_thread(
            read_analysis_files, source.root, max_file_size=self.settings.source.max_file_size)
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
            for key, record in self.memory.items():
                if key in self._declared:
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
            record = self.memory.get_or_create(key)
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

    def _first_event_at(self, path: str, *, default: float) -> float:
        """When the file at ``path`` (or a directory above it) first changed, for the latency."""
        candidates = [self._event_at.get(path)]
        parent = os.path.dirname(path)
        while parent:
            candidates.append(self._event_at.get(parent))
            parent = os.path.dirname(parent)
        seen = [t for t in candidates if t is not None]
        return min(seen) if seen else default
