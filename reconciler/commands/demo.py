"""``nomad-reconciler demo``: see the reconciler work without a cluster."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the daemon on a jobs directory against an embedded Nomad fake, with a canary walkthrough",
        description=(
            "Start the project's Nomad fake on loopback (unless --nomad-addr, NOMAD_ADDR or the "
            "config file (NOMAD_RECONCILER_CONFIG) names "
            "a real Nomad), copy DIR into a scratch git repository, run the daemon on it, commit "
            "a change to a job with canaries and narrate its rollout until the daemon's promotion "
            "policy promotes it; then, when DIR has the analysis template http-errors "
            "(.reconciler/analysis/), commit a version that opts into it, whose canary the demo's "
            "metrics make fail its analysis, and narrate the deployment failed, reverted by Nomad "
            "and held. Then serve /metrics and keep running until Ctrl-C. Your DIR is never modified."
        ),
    )
    p.add_argument("jobs_dir", nargs="?", default="jobs", metavar="DIR",
                   help="jobs directory to demonstrate with (default: jobs)")
    p.add_argument("--nomad-addr", metavar="URL",
                   help="use this Nomad instead of the embedded fake (also: NOMAD_ADDR, "
                        "NOMAD_TOKEN); namespaces the jobs use must exist there")
    p.add_argument("--nomad-version", default="1.0.18", metavar="X.Y.Z",
                   help="the Nomad release the embedded fake imitates (default %(default)s; "
                        "modelled: 1.0.18 to 2.0.5)")
    p.add_argument("--listen", default="127.0.0.1:9464", metavar="HOST:PORT",
                   help="where the daemon serves /metrics, /healthz, /readyz (default %(default)s)")
    p.add_argument("--workdir", type=Path, metavar="DIR",
                   help="where to create the scratch repository (default: a new temporary directory)")
    p.add_argument("--promote-after", default="5s", metavar="DURATION",
                   help="promotion policy of the demo daemon: promote canaries healthy this long "
                        "(default %(default)s)")
    p.add_argument("--timeout", type=float, default=180.0, metavar="SECONDS",
                   help="give up on a walkthrough step after this long (default %(default)s)")
    p.add_argument("--prometheus", choices=("auto", "real", "builtin"), default="auto",
                   help="what the canary analysis queries: a real Prometheus (the prometheus binary, "
                        "scraping the demo's exporter), or the demo's built-in query API; auto: the "
                        "binary when installed (default %(default)s)")
    p.add_argument("--exit-after-walkthrough", action="store_true",
                   help="stop once the walkthrough is done instead of running until Ctrl-C")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.config.connection import NomadConfig
    from reconciler.config.settings import given_connection
    from reconciler.config.values import parse_duration, parse_listen_address
    from reconciler.demo import DemoOptions, run_demo

    # The connection as every command resolves it; no address given (flag, a
    # non-empty NOMAD_ADDR, the config file) means the embedded fake.
    given = given_connection({"nomad": {"address": args.nomad_addr}}, os.environ)
    parse_listen_address(args.listen, name="--listen")
    parse_duration(args.promote_after, name="--promote-after")
    options = DemoOptions(
        jobs_dir=Path(args.jobs_dir),
        nomad=NomadConfig.from_values(given) if "address" in given else None,
        nomad_version=args.nomad_version,
        listen=args.listen,
        workdir=args.workdir,
        promote_after=args.promote_after,
        timeout_s=args.timeout,
        exit_after_walkthrough=args.exit_after_walkthrough,
        prometheus=args.prometheus,
    )
    return run_demo(options)
