"""``nomad-reconciler plan [DIR]`` (alias ``diff``): what a sync would change; writes nothing.

Exit status like ``terraform plan -detailed-exitcode``: 0 in sync, 2 changes
pending, 1 errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from reconciler.commands.options import (
    add_connection_options,
    add_output_options,
    add_policy_options,
    add_source_options,
    build_config,
    build_inputs,
    build_policy,
    load_snapshot,
)
from reconciler.sync.oneshot import output_for, run_plan


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plan",
        aliases=["diff"],
        help="show what a sync would change (exit 0 in sync, 2 pending, 1 errors)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_options(parser)
    add_connection_options(parser)
    add_policy_options(parser, writes=False)
    add_output_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    config = build_config(args, env)
    policy = build_policy(args)
    inputs = build_inputs(args, env)
    snapshot = load_snapshot(args, inputs)
    return run_plan(
        snapshot, config, policy, output_for(args, sys.stdout, env),
        server_parser=args.parser == "server", inputs=inputs, refresh=args.refresh,
    )  # fmt: skip
