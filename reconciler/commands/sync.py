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
from typing import Any

from reconciler.commands.options import add_command, prepare
from reconciler.sync.oneshot import run_sync


def register(subparsers: Any) -> None:
    add_command(subparsers, "sync", doc=__doc__, run=run,
                help="apply the jobs directory to Nomad once (CI-friendly)",
                policy="sync", prometheus="canary analysis with --wait, docs/analysis.md")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    c = prepare(args)
    return run_sync(
        c.snapshot, c.config, c.policy, c.output,
        dry_run=args.dry_run, server_parser=args.parser == "server", inputs=c.inputs,
        refresh=args.refresh, timeout_s=args.timeout, analysis=c.analysis,
    )  # fmt: skip
