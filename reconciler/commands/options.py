"""Command-line options shared by ``plan``, ``sync`` and ``status``.

Flags are named like the Nomad CLI's where they overlap.  Connection flags map
onto ``NomadConfig`` through ``reconciler.config`` with the daemon's precedence
flag > environment (``NOMAD_*``) > config file (``NOMAD_RECONCILER_CONFIG``'s
``[nomad]`` table) > default; variables onto ``VariableInputs`` (``-var`` > ``-var-file`` >
``NOMAD_VAR_*``, as Nomad does).  Only this module and the command modules
read ``os.environ``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.config.connection import NomadConfig
from reconciler.config.settings import load_connection
from reconciler.config.values import parse_duration
from reconciler.core.analysis_templates import AnalysisCatalog, build_catalog
from reconciler.core.policy import SyncPolicy, command_policy
from reconciler.errors import ConfigError
from reconciler.jobspec.analysis_files import read_analysis_files
from reconciler.jobspec.limits import DEFAULT_MAX_FILE_SIZE
from reconciler.jobspec.loader import load_directory, parse_size
from reconciler.jobspec.variables import VariableInputs
from reconciler.model import Snapshot
from reconciler.revision import SourceKind, resolve_jobs_source


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR",
                        help="the jobs directory (default: the current directory)")  # fmt: skip
    parser.add_argument("--var", "-var", action="append", default=[], metavar="KEY=VALUE",
                        help="an HCL2 variable for every job (repeatable; beats --var-file)")  # fmt: skip
    parser.add_argument("--var-file", "-var-file", action="append", default=[], metavar="FILE",
                        help="an HCL2 variables file for every job (repeatable)")  # fmt: skip
    parser.add_argument("--max-file-size", default="256KiB", metavar="SIZE",
                        help="largest job file loaded (default 256KiB; e.g. 64KiB, 1MiB); a larger one is an error of that file, never parsed")  # fmt: skip
    parser.add_argument("--apply-uncommitted", action="store_true",
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
    parser.add_argument("--prune", action="store_true", help="stop owned jobs whose file is gone")
    parser.add_argument("--purge", action="store_true", help="with --prune: purge instead of stop")
    parser.add_argument("--max-prune", type=_fraction, default=0.5, metavar="FRACTION",
                        help="refuse to prune more than this fraction of owned jobs (default 0.5)")  # fmt: skip
    parser.add_argument("--promote", action="store_true",
                        help="promote canaries once healthy (else only jobs with Meta gitops.auto-promote)")  # fmt: skip
    parser.add_argument("--supersede", action="store_true",
                        help="submit a new spec even while the job's deployment is running")  # fmt: skip
    parser.add_argument("--retry-failed", action="store_true",
                        help="re-submit a spec whose rollout failed and was rolled back")  # fmt: skip
    parser.add_argument("--max-concurrent", type=int, default=0, metavar="N",
                        help="at most N deployments at once (default: no cap)")  # fmt: skip
    if writes:
        parser.add_argument("--dry-run", action="store_true", help="plan only; write nothing")
        parser.add_argument("--wait", action="store_true",
                            help="follow the deployments started until healthy, failed or --timeout")  # fmt: skip
        parser.add_argument("--timeout", type=_duration, default=300.0, metavar="SECONDS",
                            help="--wait limit per wave (seconds, or a Go duration such as 30s, 5m, 1h30m; default 5m)")  # fmt: skip


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _duration(text: str) -> float:
    try:
        return parse_duration(text, name="--timeout")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--timeout: ")) from None


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


def build_inputs(args: argparse.Namespace, env: Mapping[str, str]) -> VariableInputs:
    """``VariableInputs`` for the loader: ``--var``, ``--var-file`` and ``NOMAD_VAR_*``."""
    for item in args.var:
        if "=" not in item:
            raise ConfigError(f"--var {item!r}: expected KEY=VALUE")
    nomad_vars = {k: v for k, v in env.items() if k.startswith("NOMAD_VAR_")}
    return VariableInputs(cli=tuple(args.var), files=tuple(args.var_file), env=nomad_vars)


def build_policy(args: argparse.Namespace) -> SyncPolicy:
    namespaces = frozenset(args.namespace) if getattr(args, "namespace", None) else None
    return command_policy(
        prune=getattr(args, "prune", False),
        purge=getattr(args, "purge", False),
        max_prune=getattr(args, "max_prune", 0.5),
        preserve_counts=getattr(args, "preserve_counts", False),
        supersede=getattr(args, "supersede", False),
        retry_failed=getattr(args, "retry_failed", False),
        promote=getattr(args, "promote", False),
        wait=getattr(args, "wait", False),
        max_concurrent=getattr(args, "max_concurrent", 0),
        namespaces=namespaces,
    )


def load_snapshot(args: argparse.Namespace, inputs: VariableInputs) -> Snapshot:
    """The jobs directory as a ``Snapshot`` (per-file errors inside, never raised)."""
    return load_sources(args, inputs)[0]


def load_sources(args: argparse.Namespace, inputs: VariableInputs) -> tuple[Snapshot, AnalysisCatalog]:
    """The jobs directory as a ``Snapshot``, and its canary analysis templates
    (``.reconciler/analysis``), both from the same committed state."""
    root = Path(args.dir)
    if not root.is_dir():
        raise ConfigError(f"jobs directory {args.dir!r} does not exist or is not a directory")
    limit = parse_size(getattr(args, "max_file_size", None) or DEFAULT_MAX_FILE_SIZE)
    with tempfile.TemporaryDirectory(prefix="nomad-reconciler-committed-") as cache:
        source = resolve_jobs_source(
            str(root), cache_dir=cache, uncommitted=getattr(args, "apply_uncommitted", False)
        )
        if source.kind is SourceKind.COMMITTED:
            shown = ", ".join(source.uncommitted[:5])
            more = f" and {len(source.uncommitted) - 5} more" if len(source.uncommitted) > 5 else ""
            print(f"note: uncommitted changes in {args.dir} are not used ({shown}{more}); "
                  "commit them, or pass --apply-uncommitted", file=sys.stderr)  # fmt: skip
        snapshot = load_directory(source.root, inputs=inputs, max_file_size=limit)
        texts, unread = read_analysis_files(source.root, max_file_size=limit)
    return dataclasses.replace(snapshot, root=str(root)), build_catalog(texts, read_errors=unread)
