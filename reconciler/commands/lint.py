"""``nomad-reconciler lint [DIR]`` (alias ``validate``): offline checks of a jobs directory.

Loads the directory like every other command (so load errors are findings
too), applies Nomad's own validation and the lint rules, checks the analysis
templates under ``.reconciler/analysis/`` and the jobs that opt into them, and
prints one line per finding (``file:line: severity: message [rule]``) or, with
``--format json``, the document described in ``reconciler.lint.runner``.
Nomad's rules are those of ``--nomad-version`` (``auto``: the version the Nomad
at ``--address``/``NOMAD_ADDR`` reports in ``/v1/agent/self``, lint's only
request to Nomad); without it, those of every supported release.  With
``--prometheus-url``, each analysis query is also parsed by that Prometheus
(``/api/v1/parse_query``); when it cannot be reached a note says so on stderr
and the local PromQL check stands alone.

Exit status: 1 if any finding is an error (or any finding at all with
``--warnings-as-errors``), else 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from reconciler.commands.prometheus_options import add_prometheus_options
from reconciler.errors import ConfigError
from reconciler.lint.rules import RULES


def register(subparsers: Any) -> None:
    rules = "\n".join(f"  {r.name:<28} {r.severity.value:<8} {r.summary}" for r in RULES)
    parser = subparsers.add_parser(
        "lint",
        aliases=["validate"],  # both names are the offline checks (README, "Commands")
        help="check the jobs directory offline (Nomad's validation + lint rules)",
        description=(
            "Check every job file under DIR without talking to Nomad: files that do not load, "
            "Nomad's own validation (its texts), then the lint rules below."
        ),
        epilog=(
            "rules (besides nomad-validate, nomad-warning, load, duplicate-job, "
            f"job-id-file-name):\n{rules}\n\n"
            "analysis templates (.reconciler/analysis/*.hcl, docs/analysis.md): analysis (a "
            "template's own errors), analysis-promql (Prometheus refused a query; needs "
            "--prometheus-url), analysis-reference (Meta gitops.analysis names an unknown or "
            "broken template), analysis-no-canary (warning: a group opts in without canaries nor a rolling update).\n\n"
            "--format json prints the nomad-reconciler/v1 document (docs/json-output.md): "
            "{schema, command: lint, exit_code, summary: {errors, warnings, jobs, "
            "files_with_errors}, diagnostics: [{path, line, column, severity, message, rule}]}."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "dir",
        nargs="?",
        default=".",
        metavar="DIR",
        help="the jobs directory (default: the current directory)",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "--var", "-var",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an HCL2 variable for every job (repeatable; beats --var-file)",
    )
    parser.add_argument(
        "--var-file", "-var-file",
        action="append",
        default=[],
        metavar="FILE",
        help="an HCL2 variables file for every job (repeatable)",
    )
    parser.add_argument(
        "--nomad-version",
        metavar="VERSION",
        help="validate as this Nomad release does (e.g. 1.6.2), or 'auto': ask the Nomad at "
        "--address/NOMAD_ADDR (GET /v1/agent/self); default: as every supported release "
        "(1.0.18 to 2.x) does, naming the releases of a rule that only some apply",
    )
    parser.add_argument("--address", metavar="URL", help="with --nomad-version auto: Nomad's address (NOMAD_ADDR)")
    parser.add_argument("--warnings-as-errors", action="store_true", help="exit 1 on warnings too")
    parser.add_argument("--max-file-size", default="256KiB", metavar="SIZE", help="largest job file loaded (default 256KiB; e.g. 64KiB, 1MiB); a larger one is an error of that file, never parsed")
    add_prometheus_options(parser, purpose="optional: analysis queries parsed by Prometheus itself")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Lazy imports: the HCL machinery loads only when the command runs.
    from reconciler.commands.options import build_inputs, build_source
    from reconciler.jobspec.loader import load_directory
    from reconciler.lint.runner import count_errors, lint_snapshot, render_json, render_text

    source = build_source(args)  # the files as the daemon reads them: its `source` settings
    root = Path(source.jobs_dir)
    if not root.is_dir():
        raise ConfigError(f"jobs directory {args.dir!r} does not exist or is not a directory")
    snapshot = load_directory(
        root, inputs=build_inputs(source, os.environ), max_file_size=source.max_file_size
    )
    diagnostics = lint_snapshot(
        snapshot, nomad_version=_target_version(args), time_zones=_known_time_zones()
    )
    diagnostics = sorted(
        [*diagnostics, *_analysis_findings(args, root, snapshot.jobs)],
        key=lambda d: (d.path, d.line or 0, d.severity.value != "error", d.rule),
    )
    failing = len(diagnostics) if args.warnings_as_errors else count_errors(diagnostics)
    exit_code = 1 if failing else 0
    if args.format == "json":
        sys.stdout.write(render_json(diagnostics, jobs=len(snapshot.jobs), exit_code=exit_code))
    else:
        sys.stdout.write(render_text(diagnostics))
    return exit_code


def _target_version(args: argparse.Namespace) -> tuple[int, int, int] | None:
    """``--nomad-version``: a release, the connected agent's (``auto``), or ``None`` (all)."""
    from reconciler.nomad.versions import parse_version

    text = args.nomad_version
    if text is None:
        return None
    if text != "auto":
        try:
            return parse_version(text)
        except ValueError as exc:
            raise ConfigError(f"--nomad-version {text!r}: {exc}") from None
    return _agent_version(args)


def _agent_version(args: argparse.Namespace) -> tuple[int, int, int]:
    import asyncio

    from reconciler.commands.options import build_config
    from reconciler.errors import NomadError
    from reconciler.nomad.client import NomadClient
    from reconciler.nomad.versions import version_from_agent_self
    from reconciler.sync.session import explain_nomad_error

    config = build_config(args, os.environ)

    async def ask() -> tuple[int, int, int]:
        async with NomadClient(config) as client:
            return version_from_agent_self(await client.agent_self())

    try:
        return asyncio.run(ask())
    except NomadError as exc:
        raise ConfigError(
            f"--nomad-version auto: {explain_nomad_error(exc, config)}; "
            "pass the version instead (--nomad-version 1.6.2)"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"--nomad-version auto: {exc}") from None


def _known_time_zones() -> frozenset[str]:
    """The IANA zone names this host knows: what a periodic ``time_zone`` may name.

    Empty when the host has no zone database (then names are not checked).
    """
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def _analysis_findings(args: argparse.Namespace, root: Path, jobs: Any) -> list[Any]:
    from reconciler.commands.prometheus_options import build_prometheus_config
    from reconciler.core.analysis_templates import build_catalog
    from reconciler.jobspec.analysis_files import read_analysis_files
    from reconciler.jobspec.loader import parse_size
    from reconciler.lint.analysis import lint_analysis

    texts, read_errors = read_analysis_files(root, max_file_size=parse_size(args.max_file_size))
    catalog = build_catalog(texts, read_errors=read_errors)
    try:
        config = build_prometheus_config(args, os.environ)
    except ConfigError as exc:
        # lint is offline first: a config file it cannot read costs only the remote check
        print(f"note: {exc}; the analysis queries are checked locally only", file=sys.stderr)
        config = None
    remote = _parse_remotely(config, catalog) if config is not None else []
    return lint_analysis(jobs, catalog, remote=remote)


def _parse_remotely(config: Any, catalog: Any) -> list[Any]:
    """Each check's query (placeholders filled with example values) parsed by Prometheus."""
    import asyncio

    from reconciler.core.analysis_queries import EXAMPLE_VALUES, render_query
    from reconciler.errors import PrometheusError
    from reconciler.model import Diagnostic
    from reconciler.prometheus import PrometheusClient

    async def parse_all() -> list[Diagnostic]:
        found: list[Diagnostic] = []
        async with PrometheusClient(config) as client:
            for template in catalog.templates.values():
                for check in template.checks:
                    verdict = await client.parse_query(render_query(check.query, EXAMPLE_VALUES))
                    if verdict is not None:
                        found.append(Diagnostic(
                            path=check.path, line=check.query_line, rule="analysis-promql",
                            message=f'check "{check.qualified_name}": Prometheus: {verdict}',
                        ))  # fmt: skip
        return found

    try:
        return asyncio.run(parse_all())
    except PrometheusError as exc:
        print(f"note: Prometheus at {config.display_url} did not parse the analysis queries "
              f"({exc}); only the local PromQL check was applied", file=sys.stderr)  # fmt: skip
        return []
