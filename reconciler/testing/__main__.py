"""Run the Nomad fake standalone: ``python -m reconciler.testing --port 4646 [--nomad-version 1.0.18] [--acl]``.

Prints the fake's address (and, with ``--acl``, the bootstrap management
token) on stdout, then serves until interrupted (SIGINT/SIGTERM).  Used by
the ``demo`` command and by subprocess tests.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from reconciler.testing.fake_nomad import FakeNomad, HealthModel
from reconciler.testing.fake_nomad.state import AVAILABLE_DRIVERS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reconciler.testing", description="Run a fake Nomad 1.0.18 agent.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4646, help="0 picks a free port")
    parser.add_argument("--nomad-version", "--version", dest="version", default="1.0.18",
                        help="the Nomad release to imitate (read-back defaults, API differences, /v1/agent/self)")
    parser.add_argument("--acl", action="store_true", help="enable ACLs and print a bootstrap management token")
    parser.add_argument("--region", default="global")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="multiply the jobs' own update timings (e.g. 0.1 to run deployments 10x faster)")
    parser.add_argument("--drivers", default=",".join(sorted(AVAILABLE_DRIVERS)),
                        help="comma-separated task drivers of the simulated client node; jobs using "
                             "others stay queued (default: %(default)s, as on the recording agent)")
    args = parser.parse_args(argv)
    drivers = [d.strip() for d in args.drivers.split(",") if d.strip()]
    fake = FakeNomad(version=args.version, acl=args.acl, region=args.region, host=args.host, port=args.port,
                     drivers=drivers,
                     health=HealthModel(time_scale=args.time_scale))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    fake.start()
    try:
        print(fake.address, flush=True)
        if args.acl:
            print(f"NOMAD_TOKEN={fake.bootstrap_acl()}", flush=True)
        stop.wait()
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
