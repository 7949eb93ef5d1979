"""The demo's second change: a canary that Nomad calls healthy, failed by canary analysis.

Responsible for the metrics side of the walkthrough and its narration.
Before the daemon starts (``analysis_stage``) it serves the traffic exporter
for the canary job and the Prometheus the daemon's ``--prometheus-url`` points
at (``metrics_source``).  After the first rollout (``AnalysisDemo.run``) it
commits a version of that job that opts into the jobs repository's
``http-errors`` template, with the exporter making that version's canary
answer a quarter of its requests with a 500, and narrates from Nomad's and
the daemon's public surfaces (the deployment, ``/metrics``, ``/api/v1/status``):
canary placed, healthy, each measurement and its value, the breach, the
deployment failed, Nomad's auto-revert, and the digest held with the value.

It decides nothing: the daemon fails the deployment and Nomad reverts it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reconciler.core.analysis_checks import AnalysisTemplate, format_value
from reconciler.core.analysis_templates import build_catalog
from reconciler.demo.metrics_source import MetricsSource, metrics_source
from reconciler.demo.support import (
    ANALYSIS_KEY,
    CHANGE_KEY,
    DaemonLog,
    Narrator,
    NomadView,
    compute_changed_source,
    git,
    opt_into_analysis,
    wait_until,
)
from reconciler.demo.traffic import (
    FAULTY_ERROR_RATIO,
    GOOD_ERROR_RATIO,
    TrafficExporter,
    serving_traffic,
)
from reconciler.deployment import Deployment
from reconciler.errors import ReconcilerError
from reconciler.jobspec.analysis_files import ANALYSIS_DIR, read_analysis_files
from reconciler.model import DesiredJob

TEMPLATE = "http-errors"
FAILED_BY_ANALYSIS = "analysis failed the canaries: deployment failed, Nomad rolls back"  # the daemon's log
REVISION = 3  # the first walkthrough committed revision 2


@dataclass
class AnalysisDemo:
    job: DesiredJob
    template: AnalysisTemplate
    exporter: TrafficExporter
    source: MetricsSource

    def run(self, narrator: Narrator, view: NomadView, workspace: Path, log: DaemonLog, *,
            daemon_alive: Callable[[], None], daemon_url: str, timeout_s: float) -> None:  # fmt: skip
        job, check = self.job, self.template.checks[0]
        before = view.job(job) or {}
        version_before = int(before.get("Version", -1))
        revision_before = (before.get("Meta") or {}).get(CHANGE_KEY)
        self.exporter.faulty_version = version_before + 1  # the version this commit makes

        path = workspace / job.path
        text = opt_into_analysis(path.read_text(), source_format=job.source_format, templates=TEMPLATE)
        path.write_text(compute_changed_source(text, source_format=job.source_format, revision=REVISION))
        repo = workspace.parent
        git(repo, "commit", "-q", "-am", f"{job.job_id}: opt into canary analysis {TEMPLATE}")
        narrator.step(
            f"Committed {git(repo, 'rev-parse', '--short', 'HEAD')}: {job.namespace}/{job.job_id} "
            f'opts into canary analysis (Meta "{ANALYSIS_KEY}" = "{TEMPLATE}", and {CHANGE_KEY} = '
            f'"{REVISION}": a new version, rolled out with a canary)'
        )
        narrator.say(
            f"{ANALYSIS_DIR}/ in the jobs repository defines {check.qualified_name}: the canary's 5xx "
            f"ratio must stay {check.success.describe()}, measured every {format_value(check.interval_s)}s, "
            f"{check.count} measurements; {check.failure_limit + 1} failing ones fail the canary"
        )
        narrator.say(
            f"the demo's exporter plays a bad release: the canary of job version {version_before + 1} "
            f"answers {FAULTY_ERROR_RATIO:.0%} of its requests with HTTP 500 (the others "
            f"{GOOD_ERROR_RATIO:.1%}); Nomad only sees its task running, so it calls it healthy"
        )

        def deployment() -> Deployment | None:
            daemon_alive()
            dep = view.latest_deployment(job)
            return dep if dep and dep.job_version is not None and dep.job_version > version_before else None

        dep: Deployment = wait_until(deployment, timeout_s=timeout_s, what="the new deployment")
        narrator.say(f"deployment {dep.id[:8]} for job version {dep.job_version}")
        canaries = wait_until(lambda: _canaries(view, dep.id), timeout_s=timeout_s, what="the canary")
        narrator.step(f"Canary placed: allocation {', '.join(c[:8] for c in canaries)} (job version {dep.job_version})")
        wait_until(lambda: _canaries_healthy(view, dep.id, daemon_alive), timeout_s=timeout_s,
                   what="the canary to be healthy in Nomad's eyes")  # fmt: skip
        narrator.step("Canary healthy in Nomad's eyes: on health alone the daemon's promotion policy "
                      "would promote it; the analysis must pass first")  # fmt: skip
        failed = self._narrate_measurements(narrator, view, dep.id, log, daemon_alive, timeout_s)
        breach = wait_until(lambda: log.find(FAILED_BY_ANALYSIS, nomad_namespace=job.namespace,
                                             nomad_job=job.job_id), timeout_s=timeout_s,
                            what="the daemon to say why it failed the deployment")[-1]  # fmt: skip
        narrator.step(f"Breach: {breach.get('reason')}")
        narrator.say(f"the daemon failed deployment {dep.id[:8]} (PUT /v1/deployment/fail) rather than "
                     "promote it; Nomad says:")  # fmt: skip
        narrator.say(f"{failed.status_text}: {failed.description}")

        def reverted() -> dict[str, Any] | None:
            daemon_alive()
            live = view.job(job) or {}
            back = int(live.get("Version", -1)) > version_before + 1 and (
                (live.get("Meta") or {}).get(CHANGE_KEY) == revision_before)
            return live if back else None

        live = wait_until(reverted, timeout_s=timeout_s, what=f"Nomad to revert {job.job_id}")
        narrator.step(f"Nomad auto-reverted {job.job_id}: job version {live['Version']} is the last "
                      f"stable spec again ({CHANGE_KEY} = \"{revision_before}\"); nobody touched Nomad")
        running = wait_until(lambda: _settled(view, job, int(live["Version"]), daemon_alive),
                             timeout_s=timeout_s, what="the reverted version to run")  # fmt: skip
        narrator.say(f"running: {running} allocation(s) of job version {live['Version']}; the failed "
                     "canary is stopped")  # fmt: skip
        row = wait_until(lambda: _held_row(daemon_url, job, daemon_alive), timeout_s=timeout_s,
                         what=f"the daemon to hold {job.job_id}")  # fmt: skip
        narrator.step(f"Held: the daemon does not re-send the spec of this commit (digest "
                      f"{str(row.get('digest'))[:12]}) until {job.path} changes")
        narrator.say(f"daemon: {breach.get('reason')}")
        narrator.say(f"status ({daemon_url}/api/v1/status, as `nomad-reconciler status` shows it): "
                     f"{row.get('state')}: {row.get('reason')}")
        held = wait_until(lambda: _held_metric(daemon_url, job), timeout_s=timeout_s,
                          what="the daemon's held metric")  # fmt: skip
        narrator.say(f"metrics ({daemon_url}/metrics): {held}")

    def _narrate_measurements(self, narrator: Narrator, view: NomadView, dep_id: str, log: DaemonLog,
                              daemon_alive: Callable[[], None], timeout_s: float) -> Deployment:  # fmt: skip
        """Each measurement the daemon logs, until the deployment ends."""
        job, check = self.job, self.template.checks[0].qualified_name
        said = 0
        deadline = time.monotonic() + timeout_s
        while True:
            daemon_alive()
            dep = view.deployment(dep_id)  # before the log: no measurement is left unsaid
            found = log.find("analysis measurement", nomad_namespace=job.namespace, nomad_job=job.job_id,
                             check=check)  # fmt: skip
            for record in found[said:]:
                said += 1
                narrator.say(f"measurement {said}: {check} = {record.get('value')} "
                             f"(wanted {record.get('wanted')}): {record.get('result')}")  # fmt: skip
            if dep is not None and not dep.active:
                if dep.successful:
                    raise ReconcilerError("demo: the canary analysis passed; the demo expected a breach")
                return dep
            if time.monotonic() > deadline:
                raise ReconcilerError(f"demo: the deployment did not end in {timeout_s:.0f}s")
            time.sleep(0.2)


def _canaries(view: NomadView, dep_id: str) -> list[str]:
    dep = view.deployment(dep_id)
    return [a for g in (dep.groups if dep else ()) for a in g.placed_canaries]


def _canaries_healthy(view: NomadView, dep_id: str, daemon_alive: Callable[[], None]) -> bool:
    daemon_alive()
    dep = view.deployment(dep_id)
    groups = [g for g in (dep.groups if dep else ()) if g.has_canaries]
    return bool(groups) and all(g.healthy_allocs >= g.desired_canaries for g in groups)


def _settled(view: NomadView, job: DesiredJob, version: int, daemon_alive: Callable[[], None]) -> int | None:
    """How many allocations run, all of ``version``, once its deployment is over; else ``None``."""
    daemon_alive()
    dep = view.latest_deployment(job)
    if dep is None or dep.active or dep.job_version != version:
        return None
    stubs = view.get(f"/v1/job/{job.job_id}/allocations", namespace=job.namespace) or []
    live = [a for a in stubs if a.get("DesiredStatus") == "run" and a.get("ClientStatus") == "running"]
    return len(live) if live and all(a.get("JobVersion") == version for a in live) else None


def _held_metric(url: str, job: DesiredJob) -> str | None:
    """The daemon's ``nomad_reconciler_job_held`` sample of the job, once it says held."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    wanted = (f'nomad_namespace="{job.namespace}"', f'nomad_job="{job.job_id}"', 'reason="failed_rollout"')
    for line in text.splitlines():
        if line.startswith("nomad_reconciler_job_held{") and all(w in line for w in wanted):
            return line if float(line.rsplit(" ", 1)[1]) == 1 else None
    return None


def _held_row(url: str, job: DesiredJob, daemon_alive: Callable[[], None]) -> dict[str, Any] | None:
    """The job's row of the daemon's status (``/api/v1/status``, ``status --json``) once held."""
    daemon_alive()
    try:
        doc = httpx.get(f"{url}/api/v1/status", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return None
    for row in doc.get("jobs") or ():
        if (row.get("namespace"), row.get("id")) == job.key and row.get("state") == "held":
            return row  # type: ignore[no-any-return]
    return None


@contextlib.contextmanager
def analysis_stage(
    mode: str, narrator: Narrator, job: DesiredJob | None, workspace: Path, workdir: Path, *,
    nomad_address: str, token: str | None, timeout_s: float,
) -> Iterator[AnalysisDemo | None]:  # fmt: skip
    """The exporter and the Prometheus for the analysis walkthrough, serving until the block ends."""
    texts, unread = read_analysis_files(workspace)
    template = build_catalog(texts, read_errors=unread).templates.get(TEMPLATE)
    if job is None or template is None or not template.checks:
        if job is not None:
            narrator.say(f"no analysis template {TEMPLATE!r} under {ANALYSIS_DIR}/: "
                         "the canary-analysis walkthrough is skipped")  # fmt: skip
        yield None
        return
    exporter = TrafficExporter(job.namespace, job.job_id)
    with serving_traffic(exporter, nomad_address, token) as target, metrics_source(
        mode, exporter, target, workdir, timeout_s=timeout_s
    ) as source:
        narrator.step(f"Canary analysis: the daemon queries {source.description}")
        narrator.say(f"the exporter serves per-allocation request counters of {job.namespace}/{job.job_id} "
                     "(http_requests_total{nomad_job, task_group, alloc_id, code})")  # fmt: skip
        yield AnalysisDemo(job, template, exporter, source)
