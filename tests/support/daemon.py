"""The daemon as a real subprocess (``python -m reconciler daemon``), its JSON logs and /metrics.

Every wait is bounded (a deadline) and polls an observable condition: the
daemon's JSON log lines or its /metrics values.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.network import free_port
from tests.support.waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]


def daemon_env() -> dict[str, str]:
    """This process's environment without ``NOMAD_*``: a daemon under test never sees a real
    cluster's address or token."""
    return {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}


class Metrics:
    """One scrape of /metrics, queried by name and labels."""

    def __init__(self, text: str) -> None:
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples.append((sample.name, dict(sample.labels), float(sample.value)))

    def get(self, name: str, **labels: str) -> float | None:
        for sample_name, sample_labels, value in self.samples:
            if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items()):
                return value
        return None

    def sum(self, name: str, **labels: str) -> float:
        return sum(
            v for n, lbl, v in self.samples
            if n == name and all(lbl.get(k) == val for k, val in labels.items())
        )


class DaemonProcess:
    """``python -m reconciler daemon`` in a subprocess, JSON logs collected line by line."""

    def __init__(self, jobs_dir: Path, address: str, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**daemon_env(), "PYTHONUNBUFFERED": "1"}
        self.args = [
            sys.executable, "-m", "reconciler", "daemon", str(jobs_dir),
            "--address", address,
            "--listen", f"127.0.0.1:{self.port}",
            "--log-format", "json", "--log-level", "debug",
            "--debounce", "50ms", "--debounce-max", "500ms", "--settle", "300ms",
            "--backoffs", "0.2,0.5,1", "--rollout-poll", "200ms", "--shutdown-timeout", "10s",
            *extra,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            self.args, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="daemon-log-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.raw.append(line)
                with contextlib.suppress(ValueError):  # a non-JSON line (e.g. a crash)
                    self.lines.append(json.loads(line))

    def logs(self, msg: str | None = None, **fields: Any) -> list[dict[str, Any]]:
        with self._lock:
            lines = list(self.lines)
        return [
            rec for rec in lines
            if (msg is None or rec.get("msg") == msg)
            and all(rec.get(k) == v for k, v in fields.items())
        ]

    def wait_log(self, msg: str, *, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        found = wait_until(lambda: self.logs(msg, **fields), timeout=timeout,
                           what=f"log {msg!r} {fields}")
        return found[-1]

    def metrics(self) -> Metrics:
        response = httpx.get(self.url + "/metrics", timeout=5)
        response.raise_for_status()
        return Metrics(response.text)

    def wait_metric(
        self, name: str, predicate: Callable[[float | None], bool], *, timeout: float = 15.0,
        **labels: str,
    ) -> float | None:
        def check() -> tuple[bool, float | None] | None:
            try:
                value = self.metrics().get(name, **labels)
            except httpx.HTTPError:
                return None
            return (True, value) if predicate(value) else None

        return wait_until(check, timeout=timeout, what=f"{name}{labels}")[1]

    def wait_ready(self, *, timeout: float = 20.0) -> None:
        def ready() -> bool:
            try:
                return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=timeout, what="/readyz 200")

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def stop(self, *, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise
        finally:
            self._reader.join(timeout=5)
            if self.proc.stderr is not None:
                self.proc.stderr.close()
        return code

    def dump(self) -> str:
        """The daemon's log, minus the access log of our own /metrics polling."""
        with self._lock:
            return "".join(
                line for line in self.raw
                if not ('"reconciler.observability.server"' in line and '"debug"' in line)
            )
