"""The status page's ``WebApp``: routes, access control, security headers, pages, the JSON
API and Server-Sent Events (request threads).

Routes: ``/``, ``/jobs/NS/ID``, ``/api/v1/status``, ``/api/v1/jobs/NS/ID``,
``/events``, ``/static/...``.  The documents come from ``picture``; it never
writes to Nomad (no write endpoint) and never shows a secret (documents are
redacted as the CLI redacts them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import jinja2

from reconciler.model import JobKey
from reconciler.observability.server import WebRequest, WebResponse
from reconciler.statuspage.analysis_views import (
    analyses_json,
    analysis_holds,
    analysis_view,
    shown_analysis,
)
from reconciler.statuspage.deployment_views import rollout_timeline, steps_reached
from reconciler.statuspage.feed import FeedClosed
from reconciler.statuspage.picture import Picture, Unavailable
from reconciler.statuspage.text import format_age
from reconciler.statuspage.views import (
    STATES,
    JobFilter,
    annotation_rows,
    build_overview,
    classify_diff_lines,
    explain_hold,
    job_row,
)
from reconciler.sync.oneshot import plan_exit
from reconciler.sync.render import Style, render_action
from reconciler.sync.report import SCHEMA, build_report
from reconciler.sync.status_analysis import analysis_json

if TYPE_CHECKING:
    from reconciler.statuspage.app import StatusPage

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


class StatusApp:
    """The ``WebApp`` of the status page (request threads)."""

    def __init__(self, page: StatusPage) -> None:
        self.page = page
        self.templates = _templates()
        self.static = _static_files()
        self.picture = Picture(page)

    # -- serving ---------------------------------------------------------------------

    def close(self) -> None:
        self.picture.close()
        self.page.close()

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
            status = self.picture.status()
            facts = self.picture.facts(status)
        except Unavailable as exc:
            return self._unavailable_html(exc)
        page = self.page
        overview = build_overview(
            status.plan, facts=facts, daemon_states=self.picture.daemon_states(),
            registrations=page.history.last_registration, flt=flt, now=page.clock(),
            problems=page.logs.last_problem,
            holds=analysis_holds(status.plan.actions, status.analyses),
        )  # fmt: skip
        return self._html("overview.html", title="status", o=overview, states=STATES)

    def _job_page(self, key: JobKey) -> WebResponse | None:
        try:
            status = self.picture.status()
            job_plan = self.picture.job_plan(key)
            facts = self.picture.facts(status)
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
        daemon_state = self.picture.daemon_states().get(key)
        row = job_row(action, daemon=daemon_state, registration=page.history.last_registration(key),
                      now=now, last_problem=page.logs.last_problem(key),
                      daemon_hold=analysis_holds((action,), status.analyses).get(key))  # fmt: skip
        gate = shown_analysis(action, status.analyses.get(key, ()))
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
            analysis=analysis_view(analysis_json(gate) if gate is not None else None),
            logs=list(reversed(page.logs.lines(key))),
            api_url="/api/v1/jobs/" + row.url.removeprefix("/jobs/"),
        )  # fmt: skip

    # -- the JSON API (the CLI's documents) ---------------------------------------------

    def _api_status(self) -> WebResponse:
        try:
            status = self.picture.status()
        except Unavailable as exc:
            return self._json(_error_doc("status", str(exc)), 503)
        code = 1 if status.plan.has_errors else 0
        doc = build_report(
            "status", status.plan, revision=status.snapshot.revision,
            server_version=status.server_version, exit_code=code,
            analysis=analyses_json(status.plan.actions, status.analyses),
        )  # fmt: skip
        return self._json(doc)

    def _api_job(self, key: JobKey) -> WebResponse:
        try:
            job_plan = self.picture.job_plan(key)
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


def _job_key(rest: str) -> JobKey | None:
    """``NS/ID`` of a job path (each part percent-encoded; an ID may not contain '/')."""
    ns, sep, job = rest.partition("/")
    if not sep or not ns or not job or "/" in job:
        return None
    return (unquote(ns), unquote(job))


def _error_doc(command: str, message: str) -> dict[str, Any]:
    return {"schema": SCHEMA, "command": command, "exit_code": 1, "error": message}
