"""The body of the one-shot commands, shared by ``plan``, ``sync`` and ``status``.

Each function takes parsed settings and output streams and returns the exit
status; the command modules only build parsers and call these.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from reconciler.config.connection import NomadConfig
from reconciler.core.analysis_templates import AnalysisCatalog
from reconciler.core.diff import DriftState
from reconciler.core.plan import compute_plan
from reconciler.core.policy import SyncPolicy
from reconciler.errors import NomadError
from reconciler.model import JobKey, Snapshot
from reconciler.prometheus import PrometheusClient, PrometheusConfig
from reconciler.revision import read_revision
from reconciler.sync.analysis import AnalysisRunner
from reconciler.sync.api import AnalysisApi
from reconciler.sync.engine import Reconciler
from reconciler.sync.outcome import JobOutcome, PassResult, Result, Rollout
from reconciler.sync.render import (
    Style,
    pass_summary,
    plan_summary,
    render_action,
    render_diagnostics,
    render_plan,
    render_progress,
    use_colour,
)
from reconciler.sync.report import SCHEMA, build_report
from reconciler.sync.session import connect, explain_nomad_error, reparse_with_server
from reconciler.sync.status_analysis import analyse_actions, analysis_json, analysis_lines

EXIT_OK, EXIT_ERROR, EXIT_PENDING = 0, 1, 2


@dataclass(frozen=True)
class Analysis:
    """Canary analysis for ``sync --wait`` and ``status``: the Prometheus to ask (``None``:
    analyses cannot run) and the checkout's templates (``.reconciler/analysis``)."""

    prometheus: PrometheusConfig | None = None
    catalog: AnalysisCatalog = dataclasses.field(default_factory=AnalysisCatalog)


@contextlib.asynccontextmanager
async def analysis_runner(analysis: Analysis) -> AsyncIterator[AnalysisRunner]:
    """An ``AnalysisRunner`` with its Prometheus client open (closed on exit)."""
    if analysis.prometheus is None:
        yield AnalysisRunner(None, analysis.catalog)
        return
    async with PrometheusClient(analysis.prometheus) as client:
        yield AnalysisRunner(client, analysis.catalog)


@dataclass(frozen=True)
class Output:
    json: bool = False
    show_secrets: bool = False
    colour: bool = False
    verbose: bool = False


def output_for(args: Any, stream: TextIO, env: Mapping[str, str]) -> Output:
    return Output(
        json=bool(args.json),
        show_secrets=bool(args.show_secrets),
        colour=not args.no_color and not args.json and use_colour(stream, env),
        verbose=bool(getattr(args, "verbose", False)),
    )


def _print(stream: TextIO, lines: list[str]) -> None:
    if lines:
        stream.write("\n".join(lines) + "\n")
    stream.flush()


def plan_exit(result: PassResult) -> int:
    if result.failed:
        return EXIT_ERROR
    return EXIT_PENDING if result.plan.has_changes else EXIT_OK


def run_plan(
    snapshot: Snapshot,
    config: NomadConfig,
    policy: SyncPolicy,
    out: Output,
    *,
    server_parser: bool = False,
    inputs: Any = None,
    refresh: bool = False,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``plan``/``diff``: exit 0 in sync, 2 changes pending, 1 errors."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    return _run(
        "plan", snapshot, config, policy, out, dry_run=True, server_parser=server_parser, inputs=inputs,
        refresh=refresh, timeout_s=0, stdout=stdout, stderr=stderr,
    )  # fmt: skip


def run_sync(
    snapshot: Snapshot,
    config: NomadConfig,
    policy: SyncPolicy,
    out: Output,
    *,
    dry_run: bool = False,
    server_parser: bool = False,
    inputs: Any = None,
    refresh: bool = False,
    timeout_s: float = 300.0,
    analysis: Analysis | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``sync``: exit 0 when every job synced (or is held on purpose), 1 on any failure.

    With ``--wait``, jobs that opt into canary analysis are promoted only once it
    passed, and a breach fails their deployment (``analysis``)."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    return _run(
        "sync", snapshot, config, policy, out, dry_run=dry_run, server_parser=server_parser, inputs=inputs,
        refresh=refresh, timeout_s=timeout_s, stdout=stdout, stderr=stderr, analysis=analysis,
    )  # fmt: skip


def _run(
    command: str,
    snapshot: Snapshot,
    config: NomadConfig,
    policy: SyncPolicy,
    out: Output,
    *,
    dry_run: bool,
    server_parser: bool,
    inputs: Any,
    refresh: bool,
    timeout_s: float,
    stdout: TextIO,
    stderr: TextIO,
    analysis: Analysis | None = None,
) -> int:
    style = Style(colour=out.colour, show_secrets=out.show_secrets)
    progress = _progress_printer(stderr if out.json else stdout, style, live=out.colour)

    def on_outcome(outcome: JobOutcome) -> None:
        if out.json or dry_run or outcome.result in (Result.UNCHANGED,):
            return
        _print(stdout, render_action(outcome.action, style, outcome))

    async def go() -> PassResult:
        nonlocal snapshot
        snapshot = await with_revision(snapshot)
        async with (
            connect(config, namespaces=wanted_namespaces(config, policy)) as api,
            analysis_runner(analysis or Analysis()) as runner,
        ):
            snap = await reparse_with_server(api, snapshot, inputs) if server_parser else snapshot
            engine = Reconciler(
                api, policy, timeout_s=timeout_s, refresh=refresh,
                on_outcome=on_outcome, on_progress=progress, inputs=inputs, analysis=runner,
            )  # fmt: skip
            return await engine.reconcile(snap, dry_run=dry_run)

    try:
        result = asyncio.run(go())
    except NomadError as exc:
        return _nomad_failed(command, exc, config, out, stdout, stderr)

    code = plan_exit(result) if command == "plan" else (EXIT_ERROR if result.failed else EXIT_OK)
    if out.json:
        report = build_report(
            command, result.plan, outcomes=result.outcomes, result=result,
            revision=snapshot.revision, server_version=result.server_version,
            show_secrets=out.show_secrets, exit_code=code,
        )  # fmt: skip
        stdout.write(json.dumps(report, indent=2, sort_keys=False) + "\n")
        return code
    if dry_run:
        outcomes = {o.key: o for o in result.outcomes}
        _print(stdout, render_plan(result.plan, style, outcomes, verbose=out.verbose))
        _print(stdout, [plan_summary(result.plan)])
    else:
        _print(stdout, render_diagnostics(result.plan.errors, style))
        _print(stdout, [style.paint("!", f"refused: {r}") for r in result.plan.refusals])
        _print(stdout, [pass_summary(result)])
    return code


def wanted_namespaces(config: NomadConfig, policy: SyncPolicy) -> set[str]:
    """The namespaces the user named (``--namespace``, ``NOMAD_NAMESPACE``): they must exist."""
    return set(policy.namespaces or ()) | ({config.namespace} if config.namespace else set())


def _nomad_failed(
    command: str, exc: NomadError, config: NomadConfig, out: Output, stdout: TextIO, stderr: TextIO
) -> int:
    """Nomad could not be used at all: one actionable line, and a JSON document with --json."""
    message = explain_nomad_error(exc, config)
    print(f"Error: {message}", file=stderr)
    if out.json:
        doc = {"schema": SCHEMA, "command": command, "exit_code": EXIT_ERROR, "error": message}
        stdout.write(json.dumps(doc, indent=2) + "\n")
    return EXIT_ERROR


async def with_revision(snapshot: Snapshot) -> Snapshot:
    """The snapshot with its checkout's git revision (reported only, never written into jobs)."""
    if snapshot.revision is not None:
        return snapshot
    return dataclasses.replace(snapshot, revision=await read_revision(snapshot.root))


def _progress_printer(
    stream: TextIO, style: Style, *, live: bool
) -> Callable[[JobKey, Rollout], None]:
    """Deployment progress: rewritten in place on a terminal, one line per change elsewhere."""

    def show(key: JobKey, rollout: Rollout) -> None:
        line = render_progress(key, rollout)
        if live and rollout.status == "running":
            stream.write("\r\x1b[K" + style.paint("dim", line))
        else:
            stream.write(("\r\x1b[K" if live else "") + line + "\n")
        stream.flush()

    return show


def run_status(
    snapshot: Snapshot,
    config: NomadConfig,
    policy: SyncPolicy,
    out: Output,
    *,
    analysis: Analysis | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``status``: per job state, version, last deployment, drift, and the canary analysis
    of deployments in progress.  Exit 1 on errors, else 0."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr

    async def go() -> tuple[Any, str, Any]:
        nonlocal snapshot
        snapshot = await with_revision(snapshot)
        async with (
            connect(config, namespaces=wanted_namespaces(config, policy)) as api,
            analysis_runner(analysis or Analysis()) as runner,
        ):
            engine = Reconciler(api, policy, refresh=True)
            cluster = await engine.read_cluster(snapshot, deployments=True)
            plan = compute_plan(snapshot, cluster, policy, now=0.0)
            gates = await analyse_actions(runner, api, plan.actions) if isinstance(api, AnalysisApi) else {}
            return plan, cluster.server_version, gates

    try:
        plan, version, gates = asyncio.run(go())
    except NomadError as exc:
        return _nomad_failed("status", exc, config, out, stdout, stderr)
    code = EXIT_ERROR if plan.has_errors else EXIT_OK
    if out.json:
        report = build_report(
            "status", plan, revision=snapshot.revision, server_version=version,
            show_secrets=out.show_secrets, exit_code=code,
            analysis={key: analysis_json(gate) for key, gate in gates.items()},
        )  # fmt: skip
        stdout.write(json.dumps(report, indent=2) + "\n")
        return code
    style = Style(colour=out.colour, show_secrets=out.show_secrets)
    rows = [("JOB", "NAMESPACE", "STATE", "VERSION", "DEPLOYMENT", "DRIFT")]
    for action in sorted(plan.actions, key=lambda a: a.key):
        live = action.live
        dep = live.deployment if live else None
        state = action.drift.state.value
        if action.drift.state is DriftState.IN_SYNC and action.reason.startswith("awaiting"):
            state = "in_sync (awaiting promotion)"
        rows.append((
            action.key[1], action.key[0], state,
            str(live.version) if live and live.version is not None else "-",
            dep.status_text if dep is not None else "-",
            action.drift.summary() if action.drift.state is not DriftState.IN_SYNC else "-",
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    _print(stdout, lines)
    _print(stdout, render_diagnostics(plan.errors, style))
    for key, gate in sorted(gates.items()):
        _print(stdout, [f"Analysis of {line}" if i == 0 else line
                        for i, line in enumerate(analysis_lines(key, gate))])  # fmt: skip
    counts: dict[str, int] = {}
    for action in plan.actions:
        counts[action.drift.state.value] = counts.get(action.drift.state.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    rev = snapshot.revision
    if rev is not None:  # the commit the states above are judged against
        on = f" on {rev.ref}" if rev.ref else ""
        dirty = " (the checkout also has uncommitted changes)" if rev.dirty else ""
        _print(stdout, [f"Commit: {rev.commit[:12]}{on}{dirty}."])
    _print(
        stdout, [f"Status: {summary or 'no jobs'}; {plan.unmanaged} unmanaged; Nomad {version}."]
    )
    return code
