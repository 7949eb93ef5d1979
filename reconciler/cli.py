"""Command-line entry point: builds the parser from the command modules.

Each module in ``reconciler.commands`` owns one command (or a command and its
aliases) and exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``.  This module only wires them together and maps
uncaught ``ReconcilerError``s to exit status 1 with a one-line message.

Exit codes (all commands): 0 success, 1 error, 2 changes pending (``plan``)
or usage error (argparse), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.secrets import scrub

# Order here is the order in `--help`.
COMMAND_MODULES: tuple[str, ...] = (
    "reconciler.commands.demo",
    "reconciler.commands.plan",
    "reconciler.commands.sync",
    "reconciler.commands.status",
    "reconciler.commands.daemon",
    "reconciler.commands.render",
    "reconciler.commands.lint",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nomad-reconciler",
        description=(
            "GitOps reconciler for HashiCorp Nomad: keeps the jobs Nomad runs equal to "
            "the job files in a Git checkout."
        ),
        epilog="Run 'nomad-reconciler COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except ReconcilerError as exc:
        print(f"Error: {scrub(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
