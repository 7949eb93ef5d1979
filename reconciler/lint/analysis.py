"""Lint of analysis templates and of the jobs that opt into them.

Pure: takes the loaded jobs and an ``AnalysisCatalog`` (already holding the
template files' own errors: syntax, arguments, conditions, placeholder typos,
the local PromQL check) and returns ``Diagnostic``s:

- every error of the template files (rule ``analysis``);
- a job whose Meta ``gitops.analysis`` names an unknown or broken template
  (rule ``analysis-reference``, an error at the Meta line of the job file);
- a group that opts in but has neither canaries nor a rolling update (no
  deployment: ``max_parallel = 0``, or not a service job), so nothing would ever
  be analysed (rule ``analysis-no-canary``, a warning); a group with a rolling
  update and no canaries is analysed in the background (docs/analysis.md);
- a group that opts in while its update block sets ``auto_promote = true``: Nomad would
  promote on health alone, before the analysis passed (rule ``analysis-auto-promote``, an error).

Checking PromQL with Prometheus itself (``/api/v1/parse_query``) is I/O and
happens in the ``lint`` command, which passes its findings in ``remote``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.core.analysis_checks import AnalysisCatalog
from reconciler.core.analysis_templates import META_KEY, group_analyses
from reconciler.jobspec.positions import Step, locate
from reconciler.model import DesiredJob, Diagnostic, Severity

REFERENCE_RULE = "analysis-reference"
NO_CANARY_RULE = "analysis-no-canary"
AUTO_PROMOTE_RULE = "analysis-auto-promote"


def lint_analysis(
    jobs: Iterable[DesiredJob],
    catalog: AnalysisCatalog,
    *,
    prefix: str = "gitops.",
    remote: Sequence[Diagnostic] = (),
) -> list[Diagnostic]:
    out: list[Diagnostic] = [*catalog.errors, *remote]
    for desired in jobs:
        per_group = group_analyses(desired.job, prefix=prefix)
        reported: set[str] = set()
        for group, names in per_group.items():
            _templates, problems = catalog.resolve(names)
            line = _meta_line(desired, prefix + META_KEY, group)
            for problem in problems:
                if problem in reported:
                    continue  # job-level Meta: one finding, not one per group
                reported.add(problem)
                out.append(Diagnostic(
                    path=desired.path, message=f'job "{desired.job_id}": {problem}',
                    severity=Severity.ERROR, line=line, rule=REFERENCE_RULE,
                ))  # fmt: skip
            if _auto_promote(desired.canonical, group):
                out.append(Diagnostic(
                    path=desired.path, severity=Severity.ERROR, line=line, rule=AUTO_PROMOTE_RULE,
                    message=(
                        f'group "{group}" opts into analysis ({", ".join(names)}) but its update '
                        "block sets auto_promote = true: Nomad itself would promote the canaries "
                        "once healthy, before any analysis passed; remove auto_promote (the "
                        "reconciler promotes after the analysis)"
                    ),
                ))  # fmt: skip
            elif not _canaries(desired.canonical, group) and not _rolling(desired.canonical, group):
                out.append(Diagnostic(
                    path=desired.path, severity=Severity.WARNING, line=line, rule=NO_CANARY_RULE,
                    message=(
                        f'group "{group}" opts into analysis ({", ".join(names)}) but has no '
                        "canaries (update { canary = N }) and no rolling update (update "
                        "{ max_parallel > 0 } in a service job): its checks would never run"
                    ),
                ))  # fmt: skip
    return out


def _canaries(job: Mapping[str, Any], group: str) -> int:
    count = _update(job, group).get("Canary")
    return count if isinstance(count, int) else 0


def _rolling(job: Mapping[str, Any], group: str) -> bool:
    """Nomad deploys the group (a service job, ``max_parallel > 0``): background analysis
    runs while the deployment does."""
    parallel = _update(job, group).get("MaxParallel")
    return (job.get("Type") or "service") == "service" and isinstance(parallel, int) and parallel > 0


def _auto_promote(job: Mapping[str, Any], group: str) -> bool:
    """Nomad's ``auto_promote`` (a group's update block, else the job's, which Nomad copies
    into each group) promotes healthy canaries by itself; only with canaries does it matter."""
    return _canaries(job, group) > 0 and _update(job, group).get("AutoPromote") is True


def _update(job: Mapping[str, Any], group: str) -> Mapping[str, Any]:
    for tg in job.get("TaskGroups") or ():
        if isinstance(tg, Mapping) and tg.get("Name") == group:
            update = tg.get("Update") or job.get("Update") or {}
            return update if isinstance(update, Mapping) else {}
    return {}


def _meta_line(desired: DesiredJob, key: str, group: str) -> int | None:
    """The line naming ``key`` in the group (else the job), else the group's or job's line."""
    source = desired.source
    job_line = locate(source, (Step("job", desired.job_id),), source_format=desired.source_format)
    group_line = locate(
        source, (Step("job", desired.job_id), Step("group", group)), source_format=desired.source_format
    )
    lines = source.splitlines()
    group_meta = (desired.job.get("TaskGroups") or [])
    names_in_group = any(
        isinstance(tg, Mapping) and tg.get("Name") == group and key in (tg.get("Meta") or {})
        for tg in group_meta
    )
    start = group_line if names_in_group and group_line is not None else job_line or 1
    for number in range(start, len(lines) + 1):
        if key in lines[number - 1]:
            return number
    return start
