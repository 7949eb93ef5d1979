"""Getting the status page's picture: the documents ``status --json`` and ``plan --json``
print, computed by the same functions with the daemon's Nomad client on the
daemon's event loop (a request thread waits for it, bounded).

A computed picture is kept until the daemon reports a change (``ChangeFeed``),
and recomputed at most every ``MIN_REFRESH_S`` however many pages are open.
Only a dry-run plan: nothing here writes to Nomad.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.core.actions import Plan
from reconciler.core.plan import compute_plan
from reconciler.daemon.hooks import DaemonState
from reconciler.daemon.memory import JobAnalysis
from reconciler.errors import NomadError
from reconciler.model import JobKey, Revision, Snapshot
from reconciler.secrets import scrub
from reconciler.statuspage.views import CommitInfo, DaemonFacts
from reconciler.sync.api import ClientApi
from reconciler.sync.engine import Reconciler
from reconciler.sync.outcome import PassResult

if TYPE_CHECKING:
    from reconciler.statuspage.app import StatusPage

MIN_REFRESH_S = 0.3  # at most this often a recomputed picture, whatever the number of pages
MAX_AGE_S = 30.0  # a picture no change invalidated is still re-read this often
COMPUTE_TIMEOUT_S = 20.0


class Unavailable(Exception):
    """The picture could not be computed (Nomad unreachable, the daemon stopping)."""


@dataclass(frozen=True)
class Status:
    plan: Plan
    server_version: str
    snapshot: Snapshot
    computed_at: float
    # the daemon's own memory, read on its loop with the plan: its latest canary analyses
    analyses: Mapping[JobKey, tuple[JobAnalysis, ...]] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class JobPlan:
    result: PassResult
    snapshot: Snapshot


class Picture:
    """The cached picture, shared by every page and request thread."""

    def __init__(self, page: StatusPage) -> None:
        self.page = page
        self._lock = threading.Lock()  # one computation at a time, shared by every page
        self._status: tuple[int, Status] | None = None
        self._jobs: dict[JobKey, tuple[int, float, JobPlan]] = {}
        self._commits: dict[str, CommitInfo] = {}
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._closed = False

    def close(self) -> None:
        self._closed = True
        for fut in list(self._pending):
            fut.cancel()  # a request waiting on the loop gives up now


    def run(self, coro: Any) -> Any:
        """Run ``coro`` on the daemon's loop; wait for it here (a request thread)."""
        page = self.page
        if self._closed or page.loop is None or page.daemon is None:
            coro.close()
            raise Unavailable("the daemon is stopping")
        fut = asyncio.run_coroutine_threadsafe(coro, page.loop)
        self._pending.add(fut)
        try:
            return fut.result(timeout=COMPUTE_TIMEOUT_S)
        except concurrent.futures.CancelledError:
            raise Unavailable("the daemon is stopping") from None
        except TimeoutError:
            fut.cancel()
            raise Unavailable(f"Nomad did not answer within {COMPUTE_TIMEOUT_S:g}s") from None
        except NomadError as exc:
            raise Unavailable(f"Nomad: {scrub(str(exc))}") from None
        finally:
            self._pending.discard(fut)

    def status(self) -> Status:
        feed = self.page.feed
        with self._lock:
            cached = self._status
            now = time.monotonic()
            if cached is not None:
                version, status = cached
                if version == feed.version and now - status.computed_at < MAX_AGE_S:
                    return status
                # Bursts of changes coalesce: wait out the minimum interval, then re-read
                # (never answer with a picture older than the change that woke the page).
                wait = MIN_REFRESH_S - (now - status.computed_at)
                if wait > 0:
                    time.sleep(wait)
            version = feed.version
            fresh = self.run(self.read_status())
            assert isinstance(fresh, Status)
            self._status = (version, fresh)
            return fresh

    def job_plan(self, key: JobKey) -> JobPlan:
        feed = self.page.feed
        with self._lock:
            cached = self._jobs.get(key)
            now = time.monotonic()
            if cached is not None:
                version, at, job_plan = cached
                if version == feed.version and now - at < MAX_AGE_S:
                    return job_plan
                wait = MIN_REFRESH_S - (now - at)
                if wait > 0:
                    time.sleep(wait)
            version = feed.version
            planned = self.run(self.read_job_plan(key))
            assert isinstance(planned, JobPlan)
            if len(self._jobs) > 256:
                self._jobs.clear()
            self._jobs[key] = (version, time.monotonic(), planned)
            return planned

    async def read_status(self) -> Status:
        """What ``status --json`` computes: every declared and owned job, read afresh."""
        daemon = self._daemon()
        snapshot = daemon.snapshot
        if snapshot is None:
            raise Unavailable("the jobs directory is not loaded yet")
        policy = daemon.engine.policy
        engine = Reconciler(ClientApi(daemon.client), policy, refresh=True)
        cluster = await engine.read_cluster(snapshot, deployments=True)
        plan = compute_plan(snapshot, cluster, policy, now=0.0)
        await self.read_commit(snapshot.revision)
        analyses = {a.key: daemon.memory.analyses_of(a.key) for a in plan.actions}
        return Status(plan, cluster.server_version, snapshot, time.monotonic(),
                      analyses={key: a for key, a in analyses.items() if a})  # fmt: skip

    async def read_job_plan(self, key: JobKey) -> JobPlan:
        """What ``plan --json`` computes for one job: a dry run, Nomad's plan included."""
        daemon = self._daemon()
        snapshot = daemon.snapshot
        if snapshot is None:
            raise Unavailable("the jobs directory is not loaded yet")
        engine = Reconciler(ClientApi(daemon.client), daemon.engine.policy, refresh=True)
        only_snapshot = dataclasses.replace(
            snapshot, jobs=tuple(j for j in snapshot.jobs if j.key == key)
        )
        result = await engine.reconcile(only_snapshot, only={key}, dry_run=True)
        return JobPlan(result, snapshot)

    async def read_commit(self, revision: Revision | None) -> None:
        """Author, subject and time of the checkout's commit (git log), once per commit."""
        if revision is None or revision.commit in self._commits:
            return
        daemon = self._daemon()
        root = daemon.snapshot.root if daemon.snapshot is not None else daemon.settings.source.jobs_dir
        author, subject, when = "", "", None
        try:
            proc = await asyncio.create_subprocess_exec(
                "git", "-C", root, "log", "-1", "--format=%an%x00%ct%x00%s", revision.commit,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=5)
            if proc.returncode == 0:
                parts = out.decode("utf-8", "replace").strip().split("\0")
                author, stamp, subject = [*parts, "", "", ""][:3]
                when = float(stamp) if stamp.isdigit() else None
        except (OSError, TimeoutError):
            pass  # shown without author and message
        if len(self._commits) > 64:
            self._commits.clear()
        self._commits[revision.commit] = CommitInfo(
            commit=revision.commit, short=revision.commit[:12], author=author,
            message=subject, committed_at=when, ref=revision.ref, dirty=revision.dirty,
        )  # fmt: skip

    def _daemon(self) -> DaemonState:
        if self.page.daemon is None:
            raise Unavailable("the daemon is not running")
        return self.page.daemon

    def daemon_states(self) -> Mapping[JobKey, Any]:
        daemon = self.page.daemon
        return daemon.metrics.job_states() if daemon is not None else {}

    def facts(self, status: Status) -> DaemonFacts:
        daemon = self._daemon()
        ready, reason = daemon.readiness()
        revision = status.snapshot.revision
        address = daemon.client.config.display_address
        return DaemonFacts(
            nomad_address=scrub(address), server_version=status.server_version,
            stream_connected=self.page.stream_connected, ready=ready, ready_reason=reason,
            passes=daemon.passes, last_pass_at=self.page.last_pass_at,
            commit=self._commits.get(revision.commit) if revision is not None else None,
        )  # fmt: skip
