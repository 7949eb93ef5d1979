"""Structured logs for the daemon: readable text on a terminal, one JSON object per line with --log-format json.

Responsible for formatting and for keeping secrets out of logs.  Callers add
fields with ``extra={"fields": {...}}``; both formats show them.  Every record
passes through ``SecretFilter``, which replaces any registered secret (the
Nomad token, basic-auth credentials) wherever it appears, so a token that
slips into an exception message still never reaches the log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any, TextIO

from reconciler.secrets import REGISTRY

_ROOT = "reconciler"


class SecretFilter(logging.Filter):
    """Rewrites records so that no registered secret appears in message, args or fields."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def set_secrets(self, secrets: Iterable[str | None]) -> None:
        # Very short strings would redact ordinary words: only real secrets.
        with self._lock:
            self._secrets = frozenset(s for s in secrets if s and len(s) >= 6)

    def scrub(self, text: str) -> str:
        # Its own secrets plus every secret the process registered (token files, addresses...).
        return REGISTRY.scrub(text, extra=self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {k: self._scrub_value(v) for k, v in fields.items()}
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True

    def _scrub_value(self, value: Any) -> Any:
        return self.scrub(value) if isinstance(value, str) else value


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's structured fields; absent values (None) are left out."""
    fields = getattr(record, "fields", None)
    if not isinstance(fields, dict):
        return {}
    return {k: v for k, v in fields.items() if v is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _fields(record).items():
            out.setdefault(key, value)
        exc = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else None)
        if exc:
            out["exception"] = exc
        return json.dumps(out, default=str, ensure_ascii=False)


# C0 controls, DEL, C1 controls and the Unicode line/paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def quote_controls(text: str) -> str:
    """``text`` with every control character escaped (``\\n``, ``\\x1b``...).

    A value from outside (a job ID Nomad holds, an error text) can then never
    start a new line that looks like a log record of its own.
    """
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class TextFormatter(logging.Formatter):
    """``HH:MM:SS level  message  key=value ...`` for people at a terminal.

    One record is one line: control characters in the message and in field
    values are escaped; a traceback follows on lines indented by two spaces.
    """

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        message = quote_controls(record.getMessage())
        parts = [f"{stamp} {record.levelname.lower():<7} {message}"]
        for key, value in _fields(record).items():
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            if isinstance(value, str) and (" " in text or text == "" or _CONTROL.search(text)):
                text = json.dumps(text)  # escapes controls (ensure_ascii: U+2028 too)
            parts.append(f"{quote_controls(key)}={text}")
        line = "  ".join(parts)
        exc = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else None)
        if not exc:
            return line
        body = "\n".join("  " + quote_controls(row) for row in exc.splitlines())
        return f"{line}\n{body}"


def configure_logging(
    *,
    fmt: str = "text",
    level: str = "info",
    stream: TextIO | None = None,
    secrets: Iterable[str | None] = (),
) -> SecretFilter:
    """Install the daemon's handler on the ``reconciler`` logger; returns the secret filter.

    Calling it again (SIGHUP) replaces the handler, so format, level and
    secrets can change at runtime.
    """
    logger = logging.getLogger(_ROOT)
    for handler in list(logger.handlers):
        if getattr(handler, "_reconciler_daemon", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._reconciler_daemon = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    secret_filter = SecretFilter()
    secret_filter.set_secrets(secrets)
    handler.addFilter(secret_filter)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    return secret_filter
