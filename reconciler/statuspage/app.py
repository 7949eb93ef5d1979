"""The status page: a ``DaemonObserver`` that serves read-only pages and JSON on ``--listen``.

Responsible for the routes (``/``, ``/jobs/NS/ID``, ``/api/v1/status``,
``/api/v1/jobs/NS/ID``, ``/events``, ``/static/...``), access control, the
security headers, and for getting the picture: the same documents ``status
--json`` and ``plan --json`` print, computed by the same functions, with the
daemon's Nomad client on the daemon's event loop (a request thread waits for
it, bounded).  A computed picture is kept until the daemon reports a change
(``ChangeFeed``), and recomputed at most every ``MIN_REFRESH_S`` however many
pages are open.  Open pages hear of changes over Server-Sent Events.

It must never write to Nomad (no write endpoint, a dry-run plan only), never
show a secret (documents are redacted as the CLI redacts them; log lines are
scrubbed), and never block the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlencode

import jinja2

from reconciler.config.settings import DaemonSettings
from reconciler.config.values import parse_listen_address
from reconciler.core.plan import Plan, compute_plan
from reconciler.daemon.hooks import DaemonObserver, DaemonState
from reconciler.errors import NomadError
from reconciler.model import JobKey, Revision, Snapshot
from reconciler.nomad.objects import parse_deployment
from reconciler.observability.server import WebApp, WebRequest, WebResponse
from reconciler.secrets import scrub
from reconciler.statuspage.auth import Access, read_access
from reconciler.statuspage.feed import ChangeFeed, FeedClosed, JobHistory, JobLogBuffer
from reconciler.statuspage.views import (
    STATES,
    CommitInfo,
    DaemonFacts,
    JobFilter,
    annotation_rows,
    build_overview,
    classify_diff_lines,
    explain_hold,
    format_age,
    job_row,
    rollout_timeline,
    steps_reached,
)
from reconciler.sync.api import ClientApi
from reconciler.sync.engine import Reconciler
from reconciler.sync.oneshot import plan_exit
from reconciler.sync.outcome import PassResult
from reconciler.sync.outcome import Result as SyncResult
from reconciler.sync.render import Style, render_action
from reconciler.sync.report import SCHEMA, build_report

log = logging.getLogger("reconciler.statuspage")

ALL: JobKey = ("*", "*")
MIN_REFRESH_S = 0.3  # at most this often a recomputed picture, whatever the number of pages
MAX_AGE_S = 30.0  # a picture no change invalidated is still re-read this often
COMPUTE_TIMEOUT_S = 20.0
KEEPALIVE_S = 15.0  # an SSE comment this often: dead connections are noticed

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")  # fmt: skip
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class Unavailable(Exception):
    """The picture could not be computed (Nomad unreachable, the daemon stopping)."""


@dataclass(frozen=True)
class _Status:
    plan: Plan
    server_version: str
    snapshot: Snapshot
    computed_at: float


@dataclass(frozen=True)
class _JobPlan:
    result: PassResult
    snapshot: Snapshot


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reconciler.statuspage", "templates"),
        autoescape=True,  # every field a job or Nomad gave is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["age"] = format_age
    return env


def _static_files() -> dict[str, bytes]:
    folder = resources.files("reconciler.statuspage") / "static"
    return {f.name: f.read_bytes() for f in folder.iterdir() if f.name.endswith((".css", ".js"))}


class StatusPage(DaemonObserver):
    """Observes the daemon and, once the HTTP server starts, serves the pages."""

    def __init__(self, settings: DaemonSettings, *, access: Access | None = None,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.settings = settings
        self.access = access if access is not None else read_access(settings)
        self.clock = clock
        self.feed = ChangeFeed()
        self.history = JobHistory(clock=clock)
        self.logs = JobLogBuffer(scrub)
        self.stream_connected: bool | None = False if settings.event_stream else None
        self.last_pass_at: float | None = None
        self.daemon: DaemonState | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # What open pages last heard per job: a re-check that changed nothing wakes nobody
        # (each wake-up re-reads every job from Nomad).
        self._seen_states: dict[JobKey, Any] = {}
        self._seen_deployments: dict[JobKey, tuple[Any, ...]] = {}

    # -- the observer calls (daemon loop thread) -------------------------------------

    def http_app(self, daemon: DaemonState) -> WebApp | None:
        self.daemon = daemon
        self.loop = asyncio.get_running_loop()
        host, port = parse_listen_address(self.settings.listen)
        if not self.access.required and host not in ("127.0.0.1", "::1", "localhost"):
            log.warning(
                "the status page and its JSON API are served without authentication on a "
                "non-loopback address; set ui_token_file or ui_basic_auth_file to require it",
                extra={"fields": {"listen": f"{host}:{port}"}},
            )  # fmt: skip
        self.logs.on_line = lambda key: None
        logging.getLogger("reconciler").addHandler(self.logs)
        return StatusApp(self)

    def outcomes_recorded(self, outcomes: Sequence[Any]) -> None:
        revision = self.daemon.revision if self.daemon is not None else None
        for out in outcomes:
            if out.result in (SyncResult.CREATED, SyncResult.UPDATED):
                self.history.registered(out.key, commit=revision.commit if revision else None)
        self.feed.publish([o.key for o in outcomes])

    def deployment_observed(self, key: JobKey, deployment: Mapping[str, Any], phase: str) -> None:
        dep_id = str(deployment.get("ID") or "")
        if dep_id:
            self.history.saw_steps(key, dep_id, steps_reached(parse_deployment(deployment)))
        signature = (dep_id, phase, deployment.get("Status"), deployment.get("StatusDescription"),
                     json.dumps(deployment.get("TaskGroups"), sort_keys=True, default=str))  # fmt: skip
        if self._seen_deployments.get(key) != signature:
            self._seen_deployments[key] = signature
            self.feed.publish([key])

    def job_handled(self, key: JobKey) -> None:
        if key == ALL:
            self.last_pass_at = self.clock()
            self.feed.publish(overview=True)
            return
        # Holds and rejections the daemon decides without an outcome (a parked spec, a
        # deferred change) show in its per-job state: wake the pages when that moved.
        view = self.daemon.metrics.job_state(key) if self.daemon is not None else None
        state = (view.state, view.held_reason, view.error_cause) if view is not None else None
        if self._seen_states.get(key) != state:
            self._seen_states[key] = state
            self.feed.publish([key])

    def revision_observed(self, revision: Revision | None) -> None:
        self.feed.publish(overview=True)

    def stream_changed(self, connected: bool) -> None:
        self.stream_connected = connected
        self.feed.publish(overview=True)

    def close(self) -> None:
        self.feed.close()
        logging.getLogger("reconciler").removeHandler(self.logs)


class StatusApp:
    """The ``WebApp`` of the status page (request threads)."""

    def __init__(self, page: StatusPage) -> None:
        self.page = page
        self.templates = _templates()
        self.static = _static_files()
        self._lock = threading.Lock()  # one computation at a time, shared by every page
        self._status: tuple[int, _Status] | None = None
        self._jobs: dict[JobKey, tuple[int, float, _JobPlan]] = {}
        self._commits: dict[str, CommitInfo] = {}
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._closed = False

    # -- serving ---------------------------------------------------------------------

    def close(self) -> None:
        self._closed = True
        self.page.close()
        for fut in list(self._pending):
            fut.cancel()  # a request waiting on the loop gives up now

    def handle(self, request: WebRequest) -> WebResponse | None:
        path = request.path
        if path == "/favicon.ico":
            return WebResponse(204, "text/plain", headers=SECURITY_HEADERS)
        if not self.page.access.allows(request.headers.get("authorization")):
            return WebResponse(
                401, "text/plain; charset=utf-8", b"authentication required\n",
                headers={**SECURITY_HEADERS, "WWW-Authenticate": self.page.access.challenge},
            )  # fmt: skip
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        if path == "/events":
            return self._events()
        if path == "/api/v1/status":
            return self._api_status()
        if path in ("/", "/index.html"):
            return self._overview(request)
        for prefix, view in (("/api/v1/jobs/", self._api_job), ("/jobs/", self._job_page)):
            if path.startswith(prefix):
                key = _job_key(path.removeprefix(prefix))
                return view(key) if key is not None else None
        return None

    def _static(self, name: str) -> WebResponse | None:
        body = self.static.get(name)
        if body is None:
            return None
        ctype = STATIC_TYPES[os.path.splitext(name)[1]]
        return WebResponse(200, ctype, body, headers=SECURITY_HEADERS)

    def _html(self, template: str, status: int = 200, **context: Any) -> WebResponse:
        body = self.templates.get_template(template).render(**context).encode()
        return WebResponse(status, "text/html; charset=utf-8", body, headers=SECURITY_HEADERS)

    def _json(self, doc: Mapping[str, Any], status: int = 200) -> WebResponse:
        body = (json.dumps(doc, indent=2) + "\n").encode()
        return WebResponse(status, "application/json", body, headers=SECURITY_HEADERS)

    def _unavailable_html(self, exc: Unavailable) -> WebResponse:
        return self._html("error.html", 503, title="unavailable", message=str(exc))

    # -- pages -----------------------------------------------------------------------

    def _overview(self, request: WebRequest) -> WebResponse:
        flt = JobFilter(
            namespace=request.param("ns"),
            state=request.param("state") if request.param("state") in STATES else "",
            search=request.param("q")[:200],
        )  # fmt: skip
        try:
            status = self._current_status()
            facts = self._facts(status)
        except Unavailable as exc:
            return self._unavailable_html(exc)
        page = self.page
        overview = build_overview(
            status.plan, facts=facts, daemon_states=self._daemon_states(),
            registrations=page.history.last_registration, flt=flt, now=page.clock(),
            problems=page.logs.last_problem,
        )  # fmt: skip
        return self._html("overview.html", title="status", o=overview, states=STATES)

    def _job_page(self, key: JobKey) -> WebResponse | None:
        try:
            status = self._current_status()
            job_plan = self._job_plan(key)
            facts = self._facts(status)
        except Unavailable as exc:
            return self._unavailable_html(exc)
        action = next((a for a in status.plan.actions if a.key == key), None)
        planned = next((a for a in job_plan.result.plan.actions if a.key == key), None)
        if action is None or planned is None:
            return self._html("error.html", 404, title="not found",
                              message=f"no job {key[1]} in namespace {key[0]}: it is neither "
                                      "declared nor owned by the reconciler")  # fmt: skip
        page = self.page
        now = page.clock()
        daemon_state = self._daemon_states().get(key)
        row = job_row(action, daemon=daemon_state, registration=page.history.last_registration(key),
                      now=now, last_problem=page.logs.last_problem(key))  # fmt: skip
        outcome = next((o for o in job_plan.result.outcomes if o.key == key), None)
        diff = render_action(planned, Style(colour=False, show_secrets=False), outcome)
        live = action.live
        deployment = live.deployment if live is not None else None
        if row.state == "held" and live is not None and live.failed_deployment:
            deployment = live.failed_deployment  # the rollout that caused the hold, not the revert's
        dep_id = deployment.id if deployment is not None else ""
        if deployment is not None:
            page.history.saw_steps(key, dep_id, steps_reached(deployment))
        timeline = rollout_timeline(
            deployment, version=live.version if live is not None else None,
            seen=page.history.step_times(key, dep_id),
        )  # fmt: skip
        return self._html(
            "job.html", title=f"{key[1]}", row=row, facts=facts, now=now,
            diff=classify_diff_lines(diff), in_sync=not planned.drift.changes,
            annotations=annotation_rows(outcome.annotations if outcome else None),
            timeline=timeline, hold=explain_hold(row, daemon_state),
            logs=list(reversed(page.logs.lines(key))),
            api_url="/api/v1/jobs/" + row.url.removeprefix("/jobs/"),
        )  # fmt: skip

    # -- the JSON API (the CLI's documents) ---------------------------------------------

    def _api_status(self) -> WebResponse:
        try:
            status = self._current_status()
        except Unavailable as exc:
            return self._json(_error_doc("status", str(exc)), 503)
        code = 1 if status.plan.has_errors else 0
        doc = build_report(
            "status", status.plan, revision=status.snapshot.revision,
            server_version=status.server_version, exit_code=code,
        )  # fmt: skip
        return self._json(doc)

    def _api_job(self, key: JobKey) -> WebResponse:
        try:
            job_plan = self._job_plan(key)
        except Unavailable as exc:
            return self._json(_error_doc("plan", str(exc)), 503)
        result = job_plan.result
        if not any(a.key == key for a in result.plan.actions):
            doc = _error_doc("plan", f"no job {key[1]} in namespace {key[0]}: it is neither "
                                     "declared nor owned by the reconciler")  # fmt: skip
            return self._json(doc, 404)
        doc = build_report(
            "plan", result.plan, outcomes=result.outcomes, result=result,
            revision=job_plan.snapshot.revision, server_version=result.server_version,
            exit_code=plan_exit(result),
        )  # fmt: skip
        return self._json(doc)

    # -- live updates ------------------------------------------------------------------

    def _events(self) -> WebResponse:
        feed = self.page.feed
        sub = feed.subscribe()
        if sub is None:
            return WebResponse(503, "text/plain; charset=utf-8", b"too many open pages\n",
                               headers=SECURITY_HEADERS)  # fmt: skip

        def stream() -> Iterator[bytes]:
            try:
                yield b"retry: 2000\nevent: hello\ndata: {}\n\n"
                while True:
                    try:
                        change = feed.wait(sub, KEEPALIVE_S)
                    except FeedClosed:
                        return
                    if change is None:
                        yield b": keep-alive\n\n"
                        continue
                    jobs, overview = change
                    data = {"jobs": sorted(f"{ns}/{job}" for ns, job in jobs)[:200],
                            "overview": overview}  # fmt: skip
                    yield f"event: change\ndata: {json.dumps(data)}\n\n".encode()
            finally:
                feed.unsubscribe(sub)

        return WebResponse(200, "text/event-stream; charset=utf-8", stream=stream(),
                           headers={**SECURITY_HEADERS, "X-Accel-Buffering": "no"})  # fmt: skip

    # -- computing the picture (on the daemon's loop) -------------------------------------

    def _run(self, coro: Any) -> Any:
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

    def _current_status(self) -> _Status:
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
            fresh = self._run(self._read_status())
            assert isinstance(fresh, _Status)
            self._status = (version, fresh)
            return fresh

    def _job_plan(self, key: JobKey) -> _JobPlan:
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
            planned = self._run(self._read_job_plan(key))
            assert isinstance(planned, _JobPlan)
            if len(self._jobs) > 256:
                self._jobs.clear()
            self._jobs[key] = (version, time.monotonic(), planned)
            return planned

    async def _read_status(self) -> _Status:
        """What ``status --json`` computes: every declared and owned job, read afresh."""
        daemon = self._daemon()
        snapshot = daemon.snapshot
        if snapshot is None:
            raise Unavailable("the jobs directory is not loaded yet")
        policy = daemon.engine.policy
        engine = Reconciler(ClientApi(daemon.client), policy, refresh=True)
        cluster = await engine.read_cluster(snapshot, deployments=True)
        plan = compute_plan(snapshot, cluster, policy, now=0.0)
        await self._read_commit(snapshot.revision)
        return _Status(plan, cluster.server_version, snapshot, time.monotonic())

    async def _read_job_plan(self, key: JobKey) -> _JobPlan:
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
        return _JobPlan(result, snapshot)

    async def _read_commit(self, revision: Revision | None) -> None:
        """Author, subject and time of the checkout's commit (git log), once per commit."""
        if revision is None or revision.commit in self._commits:
            return
        daemon = self._daemon()
        root = daemon.snapshot.root if daemon.snapshot is not None else daemon.settings.jobs_dir
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

    def _daemon_states(self) -> Mapping[JobKey, Any]:
        daemon = self.page.daemon
        return daemon.metrics.job_states() if daemon is not None else {}

    def _facts(self, status: _Status) -> DaemonFacts:
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


def _job_key(rest: str) -> JobKey | None:
    """``NS/ID`` of a job path (each part percent-encoded; an ID may not contain '/')."""
    ns, sep, job = rest.partition("/")
    if not sep or not ns or not job or "/" in job:
        return None
    return (unquote(ns), unquote(job))


def _error_doc(command: str, message: str) -> dict[str, Any]:
    return {"schema": SCHEMA, "command": command, "exit_code": 1, "error": message}


def filter_query(flt: JobFilter, **change: str) -> str:
    """The overview's query string for ``flt`` with some values changed (links keep filters)."""
    values = {"ns": flt.namespace, "state": flt.state, "q": flt.search, **change}
    return urlencode({k: v for k, v in values.items() if v})
