"""``nomad-reconciler sync [DIR]``: apply the jobs directory to Nomad, once.

Prints the plan as it is applied and a summary (created, updated, pruned,
held, failed, unchanged).  Exit 0 when every job synced or was held on
purpose, 1 when a file failed to load, Nomad refused a job, a safety guard
refused the requested prune, or (with ``--wait``) a deployment failed or
timed out.

Canary analysis (docs/analysis.md): with ``--wait``, the healthy canaries of
a job that opts in (Meta ``gitops.analysis``) are measured against
``--prometheus-url`` every interval.  All checks passing for their window:
promoted, if ``--promote`` or Meta ``gitops.auto-promote`` allows it.  A
breach: the deployment is failed (Nomad's ``auto_revert`` rolls back) and
sync exits 1 with ``analysis: <check> = <value>, wanted <condition>``.
Inconclusive (no data, Prometheus down): it waits until ``--timeout`` and
says so.  Without a Prometheus URL such canaries are never promoted.
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
    load_sources,
)
from reconciler.commands.prometheus_options import add_prometheus_options, build_prometheus_config
from reconciler.sync.oneshot import Analysis, output_for, run_sync


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sync",
        help="apply the jobs directory to Nomad once (CI-friendly)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_options(parser)
    add_connection_options(parser)
    add_policy_options(parser, writes=True)
    add_output_options(parser)
    add_prometheus_options(parser, purpose="canary analysis with --wait, docs/analysis.md")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    config = build_config(args, env)
    policy = build_policy(args)
    inputs = build_inputs(args, env)
    snapshot, catalog = load_sources(args, inputs)
    analysis = Analysis(build_prometheus_config(args, env), catalog)
    return run_sync(
        snapshot, config, policy, output_for(args, sys.stdout, env),
        dry_run=args.dry_run, server_parser=args.parser == "server", inputs=inputs,
        refresh=args.refresh, timeout_s=args.timeout, analysis=analysis,
    )  # fmt: skip
