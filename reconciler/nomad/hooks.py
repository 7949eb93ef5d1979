"""Observation seams of the client: per-request records and stream connection state.

The client calls these hooks so metrics can be exported without the client
knowing about Prometheus.  A hook that raises is logged and ignored: metrics
must never break talking to Nomad.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP attempt (each retry is its own record).

    ``endpoint`` is a low-cardinality template such as ``"/v1/job/:id/plan"``;
    ``status`` is the HTTP status, or ``"error"`` when no response arrived.
    """

    endpoint: str
    method: str
    status: int | Literal["error"]
    duration_s: float


RequestHook = Callable[[RequestRecord], None]
ConnectionHook = Callable[[bool], None]
ResetHook = Callable[[int, int], None]
"""``(old_index, new_index)``: the event stream's index went backwards (Nomad lost its state)."""


def call_hook_safely(hook: Callable[..., None] | None, *args: object) -> None:
    if hook is None:
        return
    try:
        hook(*args)
    except Exception:
        log.exception("Nomad client hook %r failed; ignoring", hook)
