"""Command-line options shared by ``plan``, ``sync`` and ``status``, and their one setup.

``add_command`` registers a command with the option groups it takes;
``prepare`` resolves them into the values every such command runs with
(``Prepared``).  Flags are named like the Nomad CLI's where they overlap.
They map onto the daemon's settings groups (``reconciler.config.groups``),
parsed by the same parsers: the jobs directory and its inputs onto ``source``
(variables: ``-var`` > ``-var-file`` > ``NOMAD_VAR_*``, as Nomad does), the
prune and deployment limits onto ``policy``, the connection onto ``NomadConfig``
with the daemon's precedence flag > environment (``NOMAD_*``) > config file
(``NOMAD_RECONCILER_CONFIG``'s ``[nomad]`` table) > default, Prometheus onto
``analysis``.  Only this module and the command modules read ``os.environ``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from reconciler.commands.prometheus_options import add_prometheus_options, build_prometheus_config
from reconciler.config.connection import NomadConfig
from reconciler.config.groups import PolicySettings, SourceSettings
from reconciler.config.settings import load_connection, resolve_group
from reconciler.config.values import PARSERS
from reconciler.core.analysis_templates import AnalysisCatalog, build_catalog
from reconciler.core.policy import SyncPolicy, command_policy
from reconciler.errors import ConfigError
from reconciler.jobspec.analysis_files import read_analysis_files
from reconciler.jobspec.loader import load_directory
from reconciler.jobspec.variables import VariableInputs
from reconciler.model import Snapshot
from reconciler.revision import SourceKind, resolve_jobs_source
from reconciler.sync.oneshot import Analysis, Output, output_for


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR",
                        help="the jobs directory (default: the current directory)")  # fmt: skip
    parser.add_argument("--var", "-var", action="append", default=[], metavar="KEY=VALUE",
                        help="an HCL2 variable for every job (repeatable; beats --var-file)")  # fmt: skip
    parser.add_argument("--var-file", "-var-file", action="append", default=[], metavar="FILE",
                        help="an HCL2 variables file for every job (repeatable)")  # fmt: skip
    parser.add_argument("--max-file-size", type=setting_type("size", "--max-file-size"), metavar="SIZE",
                        help="largest job file loaded (default 256KiB; e.g. 64KiB, 1MiB); a larger one is an error of that file, never parsed")  # fmt: skip
    parser.add_argument("--apply-uncommitted", action="store_true", default=None,
                        help="in a git checkout, use uncommitted edits too (default: only "
                             "what is committed, as the daemon applies)")  # fmt: skip
    parser.add_argument("--parser", choices=("local", "server"), default="local",
                        help="convert HCL locally (default) or with Nomad's /v1/jobs/parse")  # fmt: skip


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Nomad connection (default: NOMAD_* environment)")
    group.add_argument("--address", metavar="URL", help="Nomad HTTP API address (NOMAD_ADDR)")
    group.add_argument(
        "--token", metavar="SECRET", help="ACL token (NOMAD_TOKEN); prefer the variable"
    )
    group.add_argument("--region", metavar="REGION", help="region to talk to (NOMAD_REGION)")
    group.add_argument("--namespace", action="append", default=[], metavar="NS",
                       help="only these namespaces (repeatable; default: every namespace)")  # fmt: skip


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the nomad-reconciler/v1 JSON document"
    )
    parser.add_argument("--show-secrets", action="store_true",
                        help="show env values, template bodies and secret-looking keys in diffs")  # fmt: skip
    parser.add_argument("--no-color", action="store_true", help="never colour the output")
    parser.add_argument("--verbose", "-v", action="store_true", help="also list jobs in sync")


def add_policy_options(parser: argparse.ArgumentParser, *, writes: bool) -> None:
    parser.add_argument("--preserve-counts", action="store_true",
                        help="keep live group counts (as if every group had a scaling block)")  # fmt: skip
    parser.add_argument("--refresh", action="store_true",
                        help="read every job instead of trusting ownership stamps")  # fmt: skip
    parser.add_argument("--prune", action="store_true", default=None,
                        help="stop owned jobs whose file is gone")  # fmt: skip
    parser.add_argument("--purge", action="store_true", default=None,
                        help="with --prune: purge instead of stop")  # fmt: skip
    parser.add_argument("--max-prune", type=setting_type("fraction", "--max-prune"), metavar="FRACTION",
                        help="refuse to prune more than this fraction of owned jobs (default 0.5)")  # fmt: skip
    parser.add_argument("--promote", action="store_true",
                        help="promote canaries once healthy (else only jobs with Meta gitops.auto-promote)")  # fmt: skip
    parser.add_argument("--supersede", action="store_true",
                        help="submit a new spec even while the job's deployment is running")  # fmt: skip
    parser.add_argument("--retry-failed", action="store_true",
                        help="re-submit a spec whose rollout failed and was rolled back")  # fmt: skip
    parser.add_argument("--max-concurrent", type=setting_type("count", "--max-concurrent"), metavar="N",
                        help="at most N deployments at once (default: no cap)")  # fmt: skip
    if writes:
        parser.add_argument("--dry-run", action="store_true", help="plan only; write nothing")
        parser.add_argument("--wait", action="store_true",
                            help="follow the deployments started until healthy, failed or --timeout")  # fmt: skip
        parser.add_argument("--timeout", type=setting_type("duration", "--timeout"), default=300.0, metavar="SECONDS",
                            help="--wait limit per wave (seconds, or a Go duration such as 30s, 5m, 1h30m; default 5m)")  # fmt: skip


def setting_type(kind: str, flag: str) -> Callable[[str], Any]:
    """An argparse ``type`` parsing like the settings of that kind (``config/values.py``),
    so a bad value is a usage error, worded as the daemon and the config file word it."""

    def parse(text: str) -> Any:
        try:
            return PARSERS[kind](text, flag)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{flag}: ")) from None

    return parse


def build_config(args: argparse.Namespace, env: Mapping[str, str]) -> NomadConfig:
    """The Nomad connection: flags > environment > config file > default, as the daemon's."""
    namespaces: list[str] = getattr(args, "namespace", []) or []
    flags: dict[str, Any] = {
        "address": getattr(args, "address", None),
        "token": getattr(args, "token", None),
        "region": getattr(args, "region", None),
        "namespace": namespaces[0] if len(namespaces) == 1 else None,
    }
    return load_connection({"nomad": flags}, env)


def build_source(args: argparse.Namespace) -> SourceSettings:
    """The daemon's ``source`` group from the command's flags (``None``: the group's default)."""
    source: SourceSettings = resolve_group("source", {
        "jobs_dir": args.dir, "variables": args.var, "var_files": args.var_file,
        "max_file_size": getattr(args, "max_file_size", None),
        "apply_uncommitted": getattr(args, "apply_uncommitted", None),
    })  # fmt: skip
    return source


def build_inputs(source: SourceSettings, env: Mapping[str, str]) -> VariableInputs:
    """``VariableInputs`` for the loader: ``--var``, ``--var-file`` and ``NOMAD_VAR_*``."""
    for item in source.variables:
        if "=" not in item:
            raise ConfigError(f"--var {item!r}: expected KEY=VALUE")
    nomad_vars = {k: v for k, v in env.items() if k.startswith("NOMAD_VAR_")}
    return VariableInputs(cli=source.variables, files=source.var_files, env=nomad_vars)


def build_policy(args: argparse.Namespace) -> SyncPolicy:
    """The one-shot policy: the daemon's ``policy`` group and the flags only commands have."""
    policy: PolicySettings = resolve_group("policy", {
        "prune": getattr(args, "prune", None), "purge": getattr(args, "purge", None),
        "max_prune": getattr(args, "max_prune", None),
        "max_concurrent_deployments": getattr(args, "max_concurrent", None),
    })  # fmt: skip
    namespaces = frozenset(args.namespace) if getattr(args, "namespace", None) else None
    return command_policy(
        policy,
        preserve_counts=getattr(args, "preserve_counts", False),
        supersede=getattr(args, "supersede", False),
        retry_failed=getattr(args, "retry_failed", False),
        promote=getattr(args, "promote", False),
        wait=getattr(args, "wait", False),
        namespaces=namespaces,
    )


def load_sources(source: SourceSettings, inputs: VariableInputs) -> tuple[Snapshot, AnalysisCatalog]:
    """The jobs directory as a ``Snapshot`` (per-file errors inside, never raised), and its
    canary analysis templates (``.reconciler/analysis``), both from the same committed state."""
    root = Path(source.jobs_dir)
    if not root.is_dir():
        raise ConfigError(f"jobs directory {source.jobs_dir!r} does not exist or is not a directory")
    limit = source.max_file_size
    with tempfile.TemporaryDirectory(prefix="nomad-reconciler-committed-") as cache:
        jobs = resolve_jobs_source(str(root), cache_dir=cache, uncommitted=source.apply_uncommitted)
        if jobs.kind is SourceKind.COMMITTED:
            shown = ", ".join(jobs.uncommitted[:5])
            more = f" and {len(jobs.uncommitted) - 5} more" if len(jobs.uncommitted) > 5 else ""
            print(f"note: uncommitted changes in {source.jobs_dir} are not used ({shown}{more}); "
                  "commit them, or pass --apply-uncommitted", file=sys.stderr)  # fmt: skip
        snapshot = load_directory(jobs.root, inputs=inputs, max_file_size=limit)
        texts, unread = read_analysis_files(jobs.root, max_file_size=limit)
    return dataclasses.replace(snapshot, root=str(root)), build_catalog(texts, read_errors=unread)


@dataclass(frozen=True)
class Prepared:
    """What ``plan``, ``sync`` and ``status`` run with, resolved from their flags and environment."""

    config: NomadConfig
    policy: SyncPolicy
    inputs: VariableInputs
    snapshot: Snapshot
    analysis: Analysis
    output: Output


def prepare(args: argparse.Namespace, stdout: TextIO | None = None) -> Prepared:
    """The one setup of the one-shot commands: connection, policy, inputs, the jobs (and
    analysis templates), Prometheus (when the command takes it), the output."""
    env = dict(os.environ)
    config = build_config(args, env)
    policy = build_policy(args)
    source = build_source(args)
    inputs = build_inputs(source, env)
    snapshot, catalog = load_sources(source, inputs)
    prometheus = build_prometheus_config(args, env) if hasattr(args, "prometheus_url") else None
    return Prepared(config, policy, inputs, snapshot, Analysis(prometheus, catalog),
                    output_for(args, stdout or sys.stdout, env))  # fmt: skip


def add_command(
    subparsers: Any, name: str, *, doc: str | None, help: str, run: Callable[[argparse.Namespace], int],
    policy: str | None, prometheus: str | None, aliases: tuple[str, ...] = (),
) -> argparse.ArgumentParser:
    """Register a one-shot command: the source, connection and output options, the policy
    options (``policy``: ``"plan"`` or ``"sync"``, which also writes), Prometheus's (its purpose)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, aliases=list(aliases), help=help, description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    add_source_options(parser)
    add_connection_options(parser)
    if policy is not None:
        add_policy_options(parser, writes=policy == "sync")
    add_output_options(parser)
    if prometheus is not None:
        add_prometheus_options(parser, purpose=prometheus)
    parser.set_defaults(func=run)
    return parser
