"""Human output: the plan as ``nomad job plan`` shows it, progress lines, the summary.

Pure string building; the commands decide where it goes.  Colour only when
asked for (``use_colour``: a TTY and no ``NO_COLOR``).  Every value passes
through redaction unless ``show_secrets``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from reconciler.core.actions import ActionKind, JobAction, Plan
from reconciler.core.diff import ChangeKind, DriftState, FieldChange, ObjectChange
from reconciler.core.redact import REDACTED
from reconciler.errors import ErrorCause
from reconciler.model import Diagnostic
from reconciler.sync.apply import annotation_text
from reconciler.sync.outcome import JobOutcome, PassResult, Result, Rollout

_COLOURS = {"+": "32", "-": "31", "~": "33", "!": "35", "x": "31", "bold": "1", "dim": "2"}


def use_colour(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Colour on a terminal unless ``NO_COLOR`` is set (https://no-color.org)."""
    env = os.environ if env is None else env
    if env.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass(frozen=True)
class Style:
    colour: bool = False
    show_secrets: bool = False

    def paint(self, key: str, text: str) -> str:
        if not self.colour:
            return text
        return f"\x1b[{_COLOURS[key]}m{text}\x1b[0m"


def _value(f: FieldChange, value: Any, style: Style) -> str:
    if f.sensitive and not style.show_secrets and value is not None:
        return f'"{REDACTED}"'
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return '""'
    return json.dumps(value, sort_keys=True)


def render_field(f: FieldChange, style: Style, indent: int) -> str:
    pad = " " * indent
    sign = f.kind.sign
    if f.kind is ChangeKind.ADDED:
        body = f"{f.name}: {_value(f, f.new, style)}"
    elif f.kind is ChangeKind.DELETED:
        body = f"{f.name}: {_value(f, f.old, style)}"
    else:
        body = f"{f.name}: {_value(f, f.old, style)} => {_value(f, f.new, style)}"
    return pad + style.paint(sign, f"{sign} {body}")


def render_object(
    obj: ObjectChange,
    style: Style,
    indent: int = 0,
    *,
    annotations: Mapping[str, str] | None = None,
    compact_added: bool = True,
) -> list[str]:
    """Lines for one changed object and everything inside it."""
    pad = " " * indent
    sign = obj.kind.sign
    lines: list[str] = []
    if obj.label in ("Job", "Task Group", "Task"):
        note = ""
        if obj.label == "Task Group" and annotations and annotations.get(obj.name):
            note = f" ({annotations[obj.name]})"
        lines.append(pad + style.paint(sign, f"{sign} {obj.label}: {json.dumps(obj.name)}") + note)
        inner = indent + 2
        closing = None
    else:
        lines.append(pad + style.paint(sign, f"{sign} {obj.label} {{"))
        inner = indent + 2
        closing = pad + "  }"
    if obj.kind is ChangeKind.ADDED and compact_added:
        # A new job or group: its groups and tasks, not every defaulted field.
        for sub in obj.objects:
            if sub.label in ("Task Group", "Task"):
                lines.extend(render_object(sub, style, inner, annotations=annotations))
        return lines
    for f in obj.fields:
        lines.append(render_field(f, style, inner))
    for sub in obj.objects:
        lines.extend(
            render_object(sub, style, inner, annotations=annotations, compact_added=compact_added)
        )
    if closing is not None:
        lines.append(closing)
    return lines


_HEADS = {
    "create": "+",
    "update": "~",
    "prune": "-",
    "purge": "-",
    "promote": "^",
    "hold": "!",
    "none": " ",
}


def render_action(action: JobAction, style: Style, outcome: JobOutcome | None = None) -> list[str]:
    """A job's block: header with verb and reason, its diff, Nomad's annotations."""
    key = f"{action.key[1]}" + (
        f" (namespace {action.key[0]})" if action.key[0] != "default" else ""
    )
    where = f"  [{action.path}]" if action.path else ""
    verb = "hold" if outcome is not None and outcome.result is Result.HELD else action.label
    head = _HEADS.get(verb, " ")
    colour = {"+": "+", "~": "~", "-": "-", "!": "!", "^": "~"}.get(head, "dim")
    lines = [style.paint(colour, f"{head} {verb:<8}") + f" {style.paint('bold', key)}{where}"]
    if action.reason and action.kind in (ActionKind.HOLD, ActionKind.NONE, ActionKind.DEREGISTER):
        lines.append(f"    {action.reason}")
    ann = annotation_text(outcome.annotations) if outcome and outcome.annotations else None
    if action.drift.changes is not None and action.kind in (ActionKind.REGISTER, ActionKind.HOLD):
        lines.extend(render_object(action.drift.changes, style, 4, annotations=ann))
    elif ann:
        for group, text in ann.items():
            lines.append(f'    Task Group: "{group}" ({text})')
    for note in action.drift.notes:
        lines.append(style.paint("dim", f"    note: {note}"))
    if outcome is not None:
        if outcome.warnings:
            lines.extend(f"    warning: {w}" for w in outcome.warnings.strip().splitlines())
        if outcome.result is Result.HELD and outcome.message and outcome.message != action.reason:
            lines.append(style.paint("!", f"    held: {outcome.message}"))
        if outcome.result is Result.FAILED:
            message = outcome.message.strip().replace("\n", "\n      ")
            lines.append(style.paint("x", f"    {failure_label(outcome)}: {message}"))
        if outcome.rollout is not None:
            lines.append(f"    {render_rollout(outcome.rollout)}")
    return lines


def failure_label(outcome: JobOutcome) -> str:
    """Who must act on a failed job: the file's author, or the cluster (a retry may pass)."""
    error = outcome.error
    if error is None and outcome.rollout is not None:
        return "failed"  # the rollout's own words follow: a timeout or an analysis is not the file's fault
    if error is None or error.cause is ErrorCause.FILE:
        return "rejected (fix the file)"
    return "failed (cluster: the same file may pass later)"


def render_rollout(rollout: Rollout) -> str:
    groups = "; ".join(
        f"{g.name}: {g.healthy}/{g.desired} healthy, {g.placed} placed, {g.unhealthy} unhealthy"
        + (f", canaries {g.placed_canaries}/{g.desired_canaries}" if g.desired_canaries else "")
        for g in rollout.groups
    )
    dep = (rollout.deployment_id or "")[:8]
    text = f"deployment {dep} {rollout.status}".replace("  ", " ")
    if groups:
        text += f" ({groups})"
    if rollout.description and rollout.status not in ("successful",):
        text += f": {rollout.description}"
    if rollout.analysis and rollout.status != "successful":
        text += " | analysis: " + " | ".join(rollout.analysis)
    return text


def render_diagnostics(errors: Iterable[Diagnostic], style: Style) -> list[str]:
    return [style.paint("x", f"error: {d.location}: {d.message}") for d in errors]


def render_plan(plan: Plan, style: Style, outcomes: Mapping[Any, JobOutcome] | None = None, *,
                verbose: bool = False) -> list[str]:  # fmt: skip
    """The plan: one block per job that needs attention (every job with ``verbose``)."""
    lines: list[str] = []
    for action in plan.actions:
        quiet = action.kind is ActionKind.NONE and action.drift.state is DriftState.IN_SYNC
        # In-sync jobs are listed only with --verbose, or when awaiting promotion.
        if quiet and not verbose and not action.deployment_id:
            continue
        lines.extend(render_action(action, style, (outcomes or {}).get(action.key)))
    lines.extend(render_diagnostics(plan.errors, style))
    lines.extend(style.paint("!", f"refused: {r}") for r in plan.refusals)
    return lines


def plan_summary(plan: Plan) -> str:
    counts: dict[str, int] = {}
    for action in plan.actions:
        counts[action.label] = counts.get(action.label, 0) + 1
    unchanged = counts.get("none", 0)
    parts = [
        f"{counts.get('create', 0)} to create",
        f"{counts.get('update', 0)} to update",
        f"{counts.get('prune', 0) + counts.get('purge', 0)} to prune",
        f"{counts.get('promote', 0)} to promote",
        f"{counts.get('hold', 0)} held",
        f"{unchanged} unchanged",
    ]
    if plan.unmanaged:
        parts.append(f"{plan.unmanaged} unmanaged")
    if plan.errors:
        parts.append(f"{len(plan.errors)} error(s)")
    return "Plan: " + ", ".join(parts) + "."


def pass_summary(result: PassResult) -> str:
    s = result.summary()
    parts = [
        f"{s['created']} created",
        f"{s['updated']} updated",
        f"{s['pruned']} pruned",
        f"{s['promoted']} promoted",
        f"{s['held']} held",
        f"{s['failed']} failed",
        f"{s['unchanged']} unchanged",
    ]
    if result.plan.unmanaged:
        parts.append(f"{result.plan.unmanaged} unmanaged")
    if result.plan.errors:
        parts.append(f"{len(result.plan.errors)} file error(s)")
    return "Sync: " + ", ".join(parts) + "."


def render_progress(key: tuple[str, str], rollout: Rollout) -> str:
    """One plain progress line (used off a terminal and in logs)."""
    return f"{key[1]}: {render_rollout(rollout)}"
