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
from typing import Any

from reconciler.commands.options import add_command, prepare
from reconciler.sync.oneshot import run_status


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers, "status", doc=__doc__, run=run, help="per job: sync state, version, last deployment, drift",
        policy=None, prometheus="canary analysis of deployments in progress or failed, docs/analysis.md",
    )  # fmt: skip
    parser.add_argument("--preserve-counts", action="store_true",
                        help="do not count live group counts as drift")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    c = prepare(args)
    return run_status(c.snapshot, c.config, c.policy, c.output, analysis=c.analysis)
