"""What the daemon tells observers besides its logs and metrics: the observer interface.

Responsible for one small contract.  The daemon calls a ``DaemonObserver`` at
the same points where it updates its metrics (outcomes recorded, a deployment
observed, a job's work done, the checkout's revision, the event stream's
state), always on the daemon's event loop thread.  An observer must return
at once: it may record values and wake other threads, never do I/O or call
Nomad there.  The base class does nothing, so an observer overrides only
what it needs and the daemon never checks for ``None``.

``http_app`` is how an observer serves pages on the daemon's ``--listen``
address (the status page does); it is called once, on the loop, when the
HTTP server starts, with the daemon as a read-only ``DaemonState``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from reconciler.deployment import Deployment
from reconciler.model import JobKey, Revision, Snapshot
from reconciler.sync.outcome import JobOutcome

if TYPE_CHECKING:
    from reconciler.config.groups import DaemonSettings
    from reconciler.daemon.memory import JobMemory
    from reconciler.nomad.client import NomadClient
    from reconciler.observability.metrics import ReconcilerMetrics
    from reconciler.observability.server import WebApp
    from reconciler.sync.engine import Reconciler


class DaemonState(Protocol):
    """The parts of the running daemon an observer may read (on the loop thread)."""

    @property
    def settings(self) -> DaemonSettings: ...

    @property
    def snapshot(self) -> Snapshot | None: ...

    @property
    def revision(self) -> Revision | None: ...

    @property
    def client(self) -> NomadClient: ...

    @property
    def metrics(self) -> ReconcilerMetrics: ...

    @property
    def passes(self) -> int: ...

    @property
    def engine(self) -> Reconciler: ...

    @property
    def memory(self) -> JobMemory: ...

    def readiness(self) -> tuple[bool, str]: ...


class DaemonObserver:
    """Does nothing; subclasses override the calls they care about."""

    def http_app(self, daemon: DaemonState) -> WebApp | None:
        """Pages to serve on ``--listen`` besides /metrics and the health checks."""
        return None

    def outcomes_recorded(self, outcomes: Sequence[JobOutcome]) -> None:
        """The engine finished these jobs (registered, held, failed, unchanged, ...)."""

    def deployment_observed(self, key: JobKey, deployment: Deployment, phase: str) -> None:
        """The daemon read (or was sent) a job's deployment; ``phase`` is its RolloutPhase."""

    def job_handled(self, key: JobKey) -> None:
        """A queue batch finished with this key (``("*", "*")``: a full pass)."""

    def revision_observed(self, revision: Revision | None) -> None:
        """The checkout was (re)loaded at this revision."""

    def stream_changed(self, connected: bool) -> None:
        """Nomad's event stream connected or dropped."""
