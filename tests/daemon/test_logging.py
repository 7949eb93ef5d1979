"""Structured logs: JSON lines with fields, text for terminals, and never the token."""

from __future__ import annotations

import io
import json
import logging

import pytest

from reconciler.daemon.logging import configure_logging

TOKEN = "3f1d2c4b-aaaa-bbbb-cccc-0123456789ab"


@pytest.fixture(autouse=True)
def _restore_logger():
    logger = logging.getLogger("reconciler")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


def test_json_lines_carry_fields() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", level="info", stream=out)
    logging.getLogger("reconciler.daemon.loop").info(
        "job registered", extra={"fields": {"nomad_namespace": "default", "nomad_job": "web",
                                            "latency_s": 0.12}}
    )
    logging.getLogger("reconciler.daemon.loop").debug("hidden at info")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["msg"] == "job registered"
    assert record["level"] == "info"
    assert record["nomad_job"] == "web" and record["latency_s"] == 0.12
    assert record["ts"].endswith("Z")


def test_text_format_is_one_readable_line() -> None:
    out = io.StringIO()
    configure_logging(fmt="text", level="debug", stream=out)
    logging.getLogger("reconciler.daemon").warning(
        "rollout failed", extra={"fields": {"nomad_job": "web", "description": "Failed due to x"}}
    )
    line = out.getvalue().strip()
    assert "warning" in line and "rollout failed" in line
    assert "nomad_job=web" in line and 'description="Failed due to x"' in line


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_token_never_logged(fmt: str) -> None:
    out = io.StringIO()
    configure_logging(fmt=fmt, level="debug", stream=out, secrets=[TOKEN])
    log = logging.getLogger("reconciler.nomad")
    log.info("using token %s", TOKEN)
    log.info("request", extra={"fields": {"header": f"X-Nomad-Token: {TOKEN}"}})
    try:
        raise RuntimeError(f"bad token {TOKEN}")
    except RuntimeError:
        log.exception("failed")
    text = out.getvalue()
    assert TOKEN not in text
    assert text.count("<redacted>") >= 3


def test_reconfigure_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(fmt="text", stream=first)
    configure_logging(fmt="json", stream=second)
    logging.getLogger("reconciler").info("once")
    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["msg"] == "once"


def test_text_lines_cannot_be_forged_by_control_characters() -> None:
    forged = "evil\n12:00:00 info    job registered  nomad_job=svc-02\x1b[2K\u2028x"
    out = io.StringIO()
    configure_logging(fmt="text", level="info", stream=out)
    log = logging.getLogger("reconciler.daemon.loop")
    log.info("job %s refused", forged, extra={"fields": {"nomad_job": forged}})
    try:
        raise ValueError(f"cannot load {forged}")
    except ValueError:
        log.exception("pass failed for %s", forged)
    lines = out.getvalue().splitlines()
    records = [line for line in lines if not line.startswith("  ")]
    assert len(records) == 2, lines
    assert "\x1b" not in out.getvalue() and "\u2028" not in out.getvalue()
    assert "evil\\n12:00:00 info" in records[0]
    assert 'nomad_job="evil\\n12:00:00' in records[0]
    assert any(line.startswith("  12:00:00 info") for line in lines)  # inside the traceback
