"""One request to the fake: decoding, ACL checks, blocking-query parameters, replies.

``Request`` is what every endpoint handler (``routes``, ``job_routes``)
builds on; answers are raised as ``Reply`` and written by ``http_handler``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler.jobspec.durations import parse_go_duration
from reconciler.testing.fake_nomad.acl import ACLDenied, Identity
from reconciler.testing.fake_nomad.go_json import DecodeError, decode_struct, go_json_error

if TYPE_CHECKING:
    from reconciler.testing.fake_nomad.http_handler import Handler
    from reconciler.testing.fake_nomad.server import FakeNomad

TEXT = "text/plain; charset=utf-8"
MAX_WAIT_S = 300.0


class Reply(Exception):
    """Raised by handlers to answer immediately."""

    def __init__(
        self, status: int, body: Any, *, text: bool = False, index: int | None = None, query: bool = False,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(status)
        self.status, self.body, self.text, self.index, self.query = status, body, text, index, query
        self.headers = headers


class Request:
    """One request: parse, authorise, and the replies every handler gives (by raising ``Reply``)."""

    def __init__(self, fake: FakeNomad, handler: Handler, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> None:
        self.fake, self.handler, self.method, self.path, self.query, self.raw = fake, handler, method, path, query, raw
        self.state = fake.state

    def q(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def namespace(self) -> str:
        return self.q("namespace") or "default"

    # --- common checks --------------------------------------------------------------
    def token(self) -> str | None:
        """The request's secret: ``X-Nomad-Token``, or ``Authorization: Bearer`` from 1.3.2 on."""
        secret = self.handler.headers.get("X-Nomad-Token")
        auth = self.handler.headers.get("Authorization") or ""
        if not secret and auth.startswith("Bearer ") and self.fake.version_at_least(1, 3, 2):
            secret = auth.removeprefix("Bearer ").strip()
        return secret

    def identity(self) -> Identity:
        with self.state.lock:
            try:
                return self.state.acl.resolve(self.token())
            except ACLDenied as exc:
                raise Reply(exc.status, exc.text, text=True) from exc

    def require(self, capability: str, namespace: str | None = None) -> Identity:
        ident = self.identity()
        if not ident.allows(capability, namespace or self.namespace):
            raise Reply(403, "Permission denied", text=True)
        return ident

    def require_any(self, *capabilities: str, namespace: str | None = None) -> Identity:
        ident = self.identity()
        if not any(ident.allows(cap, namespace or self.namespace) for cap in capabilities):
            raise Reply(403, "Permission denied", text=True)
        return ident

    def require_management(self) -> None:
        if not self.identity().management:
            raise Reply(403, "Permission denied", text=True)

    def body(self, *, struct: str | None = None) -> Any:
        text = self.raw.decode("utf-8", errors="replace")
        if not text.strip():
            raise Reply(400, "Request body is empty", text=True)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Reply(400, go_json_error(text, exc), text=True) from exc
        if struct is None:
            return data
        try:
            return decode_struct(data, struct)
        except DecodeError as exc:
            raise Reply(400, str(exc), text=True) from exc

    def blocking(self, current: Callable[[], int]) -> None:
        """Apply ``index``/``wait``: block until ``current()`` passes ``index`` or the wait ends."""
        raw_index, raw_wait = self.q("index"), self.q("wait")
        min_index = 0
        if raw_index:
            try:
                min_index = int(raw_index)
                if min_index < 0:
                    raise ValueError(raw_index)
            except ValueError as exc:
                raise Reply(400, "Invalid index", text=True) from exc
        wait = MAX_WAIT_S
        if raw_wait:
            try:
                # Nomad's parseWait takes Go's time.ParseDuration (command/agent/http.go);
                # a negative wait stays refused here, as the fake always did.
                wait = parse_go_duration(raw_wait) / 1e9
                if wait < 0:
                    raise ValueError(raw_wait)
                wait = min(wait, MAX_WAIT_S)
            except ValueError as exc:
                raise Reply(400, "Invalid wait time", text=True) from exc
        if min_index > 0:
            self.fake._track_long_request()
            if self.fake.blocking_jitter:
                wait += random.uniform(0, wait / 16)  # Nomad adds up to wait/16 of jitter
            deadline = time.monotonic() + wait
            while not self.fake._stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.state.wait(current, min_index, min(remaining, 0.5))
                with self.state.lock:
                    if current() > min_index:
                        break

    def ok(self, body: Any, index: int, *, query: bool = True) -> None:
        raise Reply(200, body, index=index, query=query)

    def not_found(self, text: str, index: int) -> None:
        raise Reply(404, text, text=True, index=index, query=True)
