"""What the demo's walkthroughs share: narration, git, waiting, reading Nomad, editing a job file.

Responsible for the small mechanics of the walkthrough (``walkthrough`` and
``analysis_walkthrough``): lines on stdout, commits in the scratch
repository, bounded waits, read-only views of Nomad, and the textual edits the
walkthroughs commit to a job file (a Meta key: a new version).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TextIO

import httpx

from reconciler.deployment import Deployment
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.model import META_PREFIX, DesiredJob
from reconciler.nomad.objects import parse_deployment

CHANGE_KEY = "demo_revision"
ANALYSIS_KEY = META_PREFIX + "analysis"
_META_OPEN = re.compile(r"^(\s*)meta(\s*=)?\s*\{[ \t]*$", re.MULTILINE)
_JOB_OPEN = re.compile(r'^(\s*)job\s+"[^"]+"\s*\{[ \t]*$', re.MULTILINE)


class Narrator:
    """Plain lines on stdout, marked so they stand out from the daemon's logs."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def step(self, text: str) -> None:
        print(f"\n==> {text}", file=self.out, flush=True)

    def say(self, text: str) -> None:
        print(f"    {text}", file=self.out, flush=True)


def compute_changed_source(source: str, *, source_format: str, revision: int) -> str:
    """The job file with one harmless Meta change: a new version, rolled out with canaries.

    HCL: a key added to the first ``meta`` block (or map), or a job-level ``meta``
    block when there is none; JSON: a key in the job's ``Meta``.
    """
    return _with_meta(source, source_format, CHANGE_KEY, str(revision))


def opt_into_analysis(source: str, *, source_format: str, templates: str) -> str:
    """The job file with Meta ``gitops.analysis`` set to ``templates``.

    The key has a dot, which HCL allows only in a map: a ``meta { ... }`` block
    becomes the equivalent ``meta = { ... }`` map.
    """
    return _with_meta(source, source_format, ANALYSIS_KEY, templates)


def _with_meta(source: str, source_format: str, key: str, value: str) -> str:
    if source_format == "json":
        doc = json.loads(source)
        job = doc.get("Job", doc)
        job["Meta"] = {**(job.get("Meta") or {}), key: value}
        return json.dumps(doc, indent=2) + "\n"
    quoted = not key.isidentifier()
    name = f'"{key}"' if quoted else key
    line = f'{name} = "{value}"'
    existing = re.compile(rf"^(\s*){re.escape(name)}\s*=.*$", re.MULTILINE)
    if existing.search(source):
        return existing.sub(lambda m: m.group(1) + line, source, count=1)
    meta = _META_OPEN.search(source)
    if meta:
        indent = meta.group(1)
        opening = f"{indent}meta = {{" if quoted else source[meta.start():meta.end()]
        return f"{source[:meta.start()]}{opening}\n{indent}  {line}{source[meta.end():]}"
    job = _JOB_OPEN.search(source)
    if not job:
        raise ConfigError("cannot find the job block to change for the walkthrough")
    at = job.end()
    indent = job.group(1) + "  "
    opening = "meta = {" if quoted else "meta {"
    return f"{source[:at]}\n{indent}{opening}\n{indent}  {line}\n{indent}}}\n{source[at:]}"


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False,
        env={**os.environ, "GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@example.com",
             "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@example.com"},
    )
    if result.returncode != 0:
        raise ConfigError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def wait_until(check: Callable[[], Any], *, timeout_s: float, what: str, interval_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ReconcilerError(f"demo: timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


class NomadView:
    """What the demo reads from Nomad to narrate (read-only, plain HTTP)."""

    def __init__(self, address: str, token: str | None) -> None:
        headers = {"X-Nomad-Token": token} if token else {}
        self.http = httpx.Client(base_url=address, headers=headers, timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: str) -> Any:
        response = self.http.get(path, params=params)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.get("/v1/jobs", namespace="*") or [])

    def job(self, job: DesiredJob) -> dict[str, Any] | None:
        return self.get(f"/v1/job/{job.job_id}", namespace=job.namespace)  # type: ignore[no-any-return]

    def latest_deployment(self, job: DesiredJob) -> Deployment | None:
        body = self.get(f"/v1/job/{job.job_id}/deployment", namespace=job.namespace)
        return parse_deployment(body) if body else None

    def deployment(self, deployment_id: str) -> Deployment | None:
        body = self.get(f"/v1/deployment/{deployment_id}")
        return parse_deployment(body) if body else None


def describe_deployment(deployment: Deployment) -> str:
    parts = []
    for group in deployment.groups:
        text = f"{group.name}: {group.healthy_allocs}/{group.desired_total} healthy"
        if group.has_canaries:
            text += (f", canaries {len(group.placed_canaries)}/{group.desired_canaries} placed"
                     f"{', promoted' if group.promoted else ''}")
        if group.unhealthy_allocs:
            text += f", {group.unhealthy_allocs} unhealthy"
        parts.append(text)
    return f"{deployment.status_text}: {deployment.description} ({'; '.join(parts)})"




_LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (\w+)\s+(.*)$")
_LOG_FIELD = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_log_line(line: str) -> dict[str, str] | None:
    """One line of the daemon's text log (``HH:MM:SS level  message  key=value ...``) as
    ``{"level", "message", key: value}``; ``None`` for anything else (a traceback line)."""
    match = _LOG_LINE.match(line)
    if match is None:
        return None
    message, *fields = re.split(r"  (?=[\w.]+=)", match.group(2), maxsplit=1)
    record = {"level": match.group(1), "message": message.strip()}
    for field in _LOG_FIELD.finditer(fields[0] if fields else ""):
        value = field.group(2)
        record[field.group(1)] = json.loads(value) if value.startswith('"') else value
    return record


class DaemonLog:
    """The daemon's stderr passed through to ours line by line, its records kept to narrate from."""

    def __init__(self, stream: IO[bytes], *, keep: int = 10_000) -> None:
        self._records: deque[dict[str, str]] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        out = getattr(sys.stderr, "buffer", None)
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", "replace")
            if out is not None:
                out.write(raw)
                out.flush()
            else:
                sys.stderr.write(text)
                sys.stderr.flush()
            record = parse_log_line(text.rstrip("\n"))
            if record is not None:
                with self._lock:
                    self._records.append(record)

    def find(self, message: str, **fields: str) -> list[dict[str, str]]:
        """The records so far with this message and these field values, oldest first."""
        with self._lock:
            return [r for r in self._records if r["message"] == message
                    and all(r.get(k) == v for k, v in fields.items())]  # fmt: skip

    def close(self) -> None:
        self._thread.join(timeout=5)
