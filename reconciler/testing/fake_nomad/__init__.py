"""A faithful fake of Nomad 1.0.18's HTTP API for tests, benchmarks and the demo.

``FakeNomad`` is a real HTTP server on loopback with jobs, versions,
plans and diffs, a simulated scheduler with deployments (canaries,
promotion, auto-revert, deadlines), blocking queries, the event stream,
ACLs, namespaces and fault injection.  Stdlib only (plus the project's
own jobspec modules when they are importable).
"""

from reconciler.testing.fake_nomad.clock import ManualClock
from reconciler.testing.fake_nomad.faults import Faults
from reconciler.testing.fake_nomad.server import FakeNomad
from reconciler.testing.fake_nomad.state import HealthModel

__all__ = ["FakeNomad", "Faults", "HealthModel", "ManualClock"]
