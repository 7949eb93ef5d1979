"""When and how the client retries a request: settings data plus tenacity wiring.

Retrying is only done where it can help: a read that failed with
``NomadUnavailableError``, or a write whose request provably never reached
Nomad (the TCP/TLS connection could not be established).  A write that may
have reached Nomad is never retried: Nomad might have applied it.  Backoff is
exponential with jitter, bounded both in attempts and in total time.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import tenacity

from reconciler.errors import ConfigError, NomadUnavailableError

# httpx errors raised before any byte of the request was written.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry settings; tests use ``RetryPolicy.immediate()`` to run without delays."""

    attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    max_total: float = 30.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError(f"retry attempts must be at least 1, got {self.attempts}")
        if min(self.initial_backoff, self.max_backoff, self.max_total, self.jitter) < 0:
            raise ConfigError("retry backoffs, total time and jitter must not be negative")

    @classmethod
    def immediate(cls, attempts: int = 3) -> RetryPolicy:
        return cls(
            attempts=attempts, initial_backoff=0.0, max_backoff=0.0, max_total=30.0, jitter=0.0
        )

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(attempts=1)

    def backoff(self, attempt: int) -> float:
        """The delay before retry number ``attempt`` (1-based), jitter excluded."""
        return float(min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1)))


def never_reached_server(exc: BaseException) -> bool:
    """True when ``exc`` is a mapped error whose request never left this process."""
    return isinstance(exc, NomadUnavailableError) and isinstance(exc.__cause__, _NOT_SENT)


def retry_can_help(exc: BaseException, *, idempotent: bool) -> bool:
    if idempotent:
        return isinstance(exc, NomadUnavailableError)
    return never_reached_server(exc)


def build_retrying(
    policy: RetryPolicy, *, idempotent: bool, request_budget: float = 0.0
) -> tenacity.AsyncRetrying:
    """A tenacity controller for one logical request; re-raises the last error.

    ``request_budget`` extends the total time by what one attempt may take on
    purpose (a blocking query's wait), so long polls keep their retries.
    """
    return tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(policy.attempts)
        | tenacity.stop_after_delay(policy.max_total + request_budget),
        # Exponential up to max_backoff, plus up to `jitter` seconds so that many
        # clients do not retry in lock-step after a leader election.
        wait=tenacity.wait_exponential(multiplier=policy.initial_backoff, max=policy.max_backoff)
        + tenacity.wait_random(0, policy.jitter),
        retry=tenacity.retry_if_exception(lambda exc: retry_can_help(exc, idempotent=idempotent)),
        reraise=True,
    )
