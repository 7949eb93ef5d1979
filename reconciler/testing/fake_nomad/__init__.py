"""A faithful fake of Nomad 1.0.18's HTTP API for tests, benchmarks and the demo.

``FakeNomad`` is a real HTTP server on loopback (or a unix socket, TLS
optional) with jobs, versions, plans and diffs, a simulated scheduler with
deployments (rolling updates, canaries, promotion, auto-promote,
auto-revert, progress deadlines), blocking queries, the event stream,
namespaces, ACLs and fault injection.  Its faithfulness is checked by
replaying every recorded exchange in ``tests/golden/api`` (tests/fake).

Typical use::

    with FakeNomad() as nomad:                       # nomad.address == "http://127.0.0.1:PORT"
        nomad.set_health("web", mode="unhealthy", version=1)   # version 1's tasks crash
        nomad.faults.fail_next(2, status=500, path_prefix="/v1/jobs")
        ...                                          # talk HTTP to nomad.address
        nomad.request_log                            # [(method, path, query, status), ...]

Timing follows each job's own update strategy (min_healthy_time, deadlines)
times ``HealthModel.time_scale``; pass ``clock=ManualClock()`` and call
``tick()`` after advancing it to drive deployments deterministically.
Stdlib only, plus the project's jobspec modules (canonicalize, validate,
HCL conversion) where they are importable.
"""

from reconciler.testing.fake_nomad.clock import ManualClock
from reconciler.testing.fake_nomad.faults import Faults
from reconciler.testing.fake_nomad.server import FakeNomad
from reconciler.testing.fake_nomad.state import HealthModel

__all__ = ["FakeNomad", "Faults", "HealthModel", "ManualClock"]
