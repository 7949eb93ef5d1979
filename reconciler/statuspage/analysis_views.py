"""The canary analysis on the status page: the daemon's latest gate per job, as words.

Which analysis belongs to a job's row (the daemon's latest is shown only when
it judged the deployment the page shows: the one running, or the failed one
that holds the job), the reason the daemon held a spec its analysis failed
(the gate's, which it held the digest with), and how its checks read.  The JSON is ``status --json``'s
``analysis`` object (``sync.status_analysis.analysis_json``), and the HTML view
is built from that same object, so the page, its API and the CLI say the same.
Pure: values in, frozen values out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.actions import HoldReason, JobAction
from reconciler.core.analysis import Verdict
from reconciler.core.analysis_checks import format_value
from reconciler.daemon.memory import JobAnalysis
from reconciler.sync.analysis import finite
from reconciler.sync.status_analysis import GateView, analysis_json

TONES: Mapping[str | None, str] = {"pass": "ok", "fail": "bad", "inconclusive": "warn", "pending": "info"}


def shown_analysis(action: JobAction, analyses: Sequence[JobAnalysis]) -> GateView | None:
    """The daemon's analysis of the deployment ``action``'s job is about: for a job held by
    a failed rollout, the failed deployment's (not the rollback's), else the latest one's."""
    live = action.live
    if live is None:
        return None
    wanted = [live.deployment]
    if action.hold_reason is HoldReason.FAILED_ROLLOUT:
        wanted.insert(0, live.failed_deployment)
    by_id = {a.deployment_id: a.gate for a in analyses}
    return next((by_id[d.id] for d in wanted if d is not None and d.id in by_id), None)


def analyses_json(
    actions: Sequence[JobAction], analyses: Mapping[Any, Sequence[JobAnalysis]]
) -> dict[Any, dict[str, Any]]:
    """Per job key, the ``analysis`` object of the status document."""
    found: dict[Any, dict[str, Any]] = {}
    for action in actions:
        gate = shown_analysis(action, analyses.get(action.key, ()))
        if gate is not None:
            found[action.key] = analysis_json(gate)
    return found


def analysis_holds(
    actions: Sequence[JobAction], analyses: Mapping[Any, Sequence[JobAnalysis]]
) -> dict[Any, str]:
    """Per held job whose failed deployment the daemon's analysis failed, the reason it held
    the spec with: ``analysis: <check> = <value>, wanted <condition>``."""
    found: dict[Any, str] = {}
    for action in actions:
        gate = shown_analysis(action, analyses.get(action.key, ()))
        if action.hold_reason is HoldReason.FAILED_ROLLOUT and gate is not None and gate.verdict is Verdict.FAIL:
            found[action.key] = gate.reason
    return found


@dataclass(frozen=True)
class CheckRow:
    name: str
    verdict: str
    last: str  # the last value, or why there is none ("no data", "not measured yet")
    condition: str
    passes: str
    failures: str  # "1 of 0 allowed"
    inconclusive: str
    window: str

    @property
    def tone(self) -> str:
        return TONES.get(self.verdict, "idle")


@dataclass(frozen=True)
class AnalysisView:
    verdict: str
    reason: str
    evaluated: bool
    checks: tuple[CheckRow, ...]

    @property
    def tone(self) -> str:
        return TONES.get(self.verdict, "idle")


def analysis_view(doc: Mapping[str, Any] | None) -> AnalysisView | None:
    """The job page's analysis card, from the document's ``analysis`` object."""
    if doc is None:
        return None
    rows = []
    for check in doc.get("checks") or ():
        value = finite(check.get("last_value"))
        last = format_value(value) if value is not None else (check.get("last_note") or "not measured yet")
        counted = check.get("passes") is not None
        rows.append(CheckRow(
            name=str(check.get("name")), verdict=str(check.get("verdict") or "not evaluated"),
            last=last, condition=str(check.get("condition")),
            passes=str(check.get("passes")) if counted else "-",
            failures=f"{check.get('failures')} of {check.get('failure_limit')} allowed" if counted else "-",
            inconclusive=str(check.get("inconclusive")) if counted else "-",
            window=str(check.get("count")),
        ))  # fmt: skip
    return AnalysisView(
        verdict=str(doc.get("verdict") or "not evaluated"), reason=str(doc.get("reason") or ""),
        evaluated=bool(doc.get("evaluated")), checks=tuple(rows),
    )  # fmt: skip
