"""``nomad-reconciler plan [DIR]`` (alias ``diff``): what a sync would change; writes nothing.

Exit status like ``terraform plan -detailed-exitcode``: 0 in sync, 2 changes
pending, 1 errors.
"""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.commands.options import add_command, prepare
from reconciler.sync.oneshot import run_plan


def register(subparsers: Any) -> None:
    add_command(subparsers, "plan", aliases=("diff",), doc=__doc__, run=run,
                help="show what a sync would change (exit 0 in sync, 2 pending, 1 errors)",
                policy="plan", prometheus=None)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    c = prepare(args)
    return run_plan(
        c.snapshot, c.config, c.policy, c.output,
        server_parser=args.parser == "server", inputs=c.inputs, refresh=args.refresh,
    )  # fmt: skip
