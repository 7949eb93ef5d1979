"""Bounded waits: poll an observable condition until a deadline, never sleep to synchronise."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], Any], *, timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.02)


def wait_for(what: str, probe: Callable[[], T | None], *, deadline_s: float = 60.0) -> T:
    """Poll ``probe`` until it returns a value (not None), within a deadline.

    An ``OSError`` (a server not listening yet) counts as no value; the sleep only paces polls.
    """
    end = time.monotonic() + deadline_s
    # Only the text: a kept exception keeps its traceback's frames, and with them a
    # refused connection's socket, alive until some later test's garbage collection.
    last_error: str | None = None
    while time.monotonic() < end:
        try:
            value = probe()
        except (OSError, urllib.error.URLError) as exc:
            last_error, value = repr(exc), None
        if value is not None:
            return value
        time.sleep(0.2)
    raise AssertionError(
        f"timed out after {deadline_s}s waiting for {what} (last error: {last_error})"
    )


def stop_process(
    process: subprocess.Popen[Any],
    *,
    timeout: float = 30.0,
    sig: signal.Signals = signal.SIGTERM,
) -> int:
    """Send ``sig`` (if still running) and wait; kill it after ``timeout``.

    Returns its exit status (negative when it had to be killed).
    """
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=timeout)
