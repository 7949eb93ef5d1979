"""``nomad-reconciler status [DIR]``: per job sync state, version, last deployment, drift.

Reads every declared and owned job (no trusted shortcuts).  Exit 1 when a
file failed to load, else 0.

For a job whose deployment is in progress and whose canaries opt into
analysis (Meta ``gitops.analysis``), shows each check's last value,
condition, passes and failures so far, recomputed from ``--prometheus-url``
(one range query per check); for a job held because its rollout failed, the
same over the failed deployment's window (canaries healthy → Nomad failed
it); without a URL, says the analysis is not evaluated.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from reconciler.commands.options import (
    add_connection_options,
    add_output_options,
    add_source_options,
    build_config,
    build_inputs,
    build_policy,
    load_sources,
)
from reconciler.commands.prometheus_options import add_prometheus_options, build_prometheus_config
from reconciler.sync.oneshot import Analysis, output_for, run_status


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "status",
        help="per job: sync state, version, last deployment, drift",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_options(parser)
    add_connection_options(parser)
    add_output_options(parser)
    add_prometheus_options(parser, purpose="canary analysis of deployments in progress or failed, docs/analysis.md")
    parser.add_argument("--preserve-counts", action="store_true",
                        help="do not count live group counts as drift")  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    config = build_config(args, env)
    policy = build_policy(args)
    inputs = build_inputs(args, env)
    snapshot, catalog = load_sources(args, inputs)
    analysis = Analysis(build_prometheus_config(args, env), catalog)
    return run_status(snapshot, config, policy, output_for(args, sys.stdout, env), analysis=analysis)
