"""The status page's stores (change feed, log lines, history) and its access rule."""

from __future__ import annotations

import base64
import logging
import threading
from pathlib import Path

import pytest

from reconciler.config.groups import DaemonSettings, UiSettings
from reconciler.errors import ConfigError
from reconciler.nomad.objects import parse_deployment
from reconciler.secrets import scrub
from reconciler.statuspage.auth import Access, read_access
from reconciler.statuspage.feed import ChangeFeed, FeedClosed, JobHistory, JobLogBuffer


def test_a_subscriber_hears_each_change_once_with_the_jobs() -> None:
    feed = ChangeFeed()
    sub = feed.subscribe()
    assert sub is not None
    assert feed.wait(sub, 0) is None  # nothing yet
    feed.publish([("default", "web")])
    feed.publish([("ops", "db")])
    assert feed.wait(sub, 0) == ({("default", "web"), ("ops", "db")}, False)
    assert feed.wait(sub, 0) is None
    feed.publish(overview=True)
    assert feed.wait(sub, 0) == (set(), True)


def test_wait_wakes_on_publish_from_another_thread_and_on_close() -> None:
    feed = ChangeFeed()
    sub = feed.subscribe()
    assert sub is not None
    got: list[object] = []
    first = threading.Event()

    def waiter() -> None:
        got.append(feed.wait(sub, 30))
        first.set()
        try:
            feed.wait(sub, 30)
        except FeedClosed:
            got.append("closed")

    thread = threading.Thread(target=waiter)
    thread.start()
    feed.publish([("default", "web")])
    assert first.wait(timeout=10)
    feed.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert got == [({("default", "web")}, False), "closed"]
    assert feed.subscribe() is None  # closed: no new pages


def test_subscribers_are_capped() -> None:
    feed = ChangeFeed(max_subscribers=2)
    first, second = feed.subscribe(), feed.subscribe()
    assert first is not None and second is not None
    assert feed.subscribe() is None
    feed.unsubscribe(first)
    assert feed.subscribe() is not None


def test_log_buffer_keeps_recent_lines_per_job_scrubbed() -> None:
    buffer = JobLogBuffer(lambda text: text.replace("s3cr3t-value", "<redacted>"), per_job=2,
                          max_jobs=2)  # fmt: skip
    logger = logging.getLogger("reconciler.test-statuspage")
    logger.addHandler(buffer)
    logger.setLevel(logging.DEBUG)
    try:
        def job_log(job: str, msg: str, **fields: object) -> None:
            logger.info(msg, extra={"fields": {"nomad_namespace": "default", "nomad_job": job,
                                               **fields}})  # fmt: skip

        job_log("web", "one")
        job_log("web", "two", error="token s3cr3t-value refused")
        job_log("web", "three")
        logger.info("not about a job")
        job_log("api", "a")
        job_log("db", "d")  # a third job: the least recently touched (web) goes
    finally:
        logger.removeHandler(buffer)
    assert [line.message for line in buffer.lines(("default", "web"))] == []
    assert [line.message for line in buffer.lines(("default", "db"))] == ["d"]
    buffer2 = JobLogBuffer(scrub, per_job=2)
    record = logging.LogRecord("reconciler", logging.WARNING, __file__, 1, "held", None, None)
    record.fields = {"nomad_namespace": "default", "nomad_job": "web", "reason": "x",
                     "error": "token s3cr3t-value refused"}
    buffer2.emit(record)
    [line] = buffer2.lines(("default", "web"))
    assert (line.level, line.message) == ("warning", "held  reason=x error=token s3cr3t-value refused")


def test_log_buffer_scrubs_before_storing() -> None:
    buffer = JobLogBuffer(lambda text: text.replace("s3cr3t-value", "<redacted>"))
    record = logging.LogRecord("reconciler", logging.INFO, __file__, 1, "failed: %s",
                               ("s3cr3t-value",), None)  # fmt: skip
    record.fields = {"nomad_namespace": "default", "nomad_job": "web", "error": "s3cr3t-value"}
    buffer.emit(record)
    [line] = buffer.lines(("default", "web"))
    assert "s3cr3t-value" not in line.message
    assert line.message == "failed: <redacted>  error=<redacted>"


def test_history_remembers_registrations_and_first_seen_steps() -> None:
    now = [100.0]
    history = JobHistory(clock=lambda: now[0])
    history.registered(("default", "web"), commit="abc")
    history.saw_steps(("default", "web"), "d1", ["registered"])
    now[0] = 130.0
    history.saw_steps(("default", "web"), "d1", ["registered", "canaries_healthy"])
    assert history.step_times(("default", "web"), "d1") == {
        "registered": 100.0, "canaries_healthy": 130.0}
    reg = history.last_registration(("default", "web"))
    assert reg is not None and (reg.at, reg.commit) == (100.0, "abc")
    history.forget(("default", "web"))
    assert history.last_registration(("default", "web")) is None
    assert history.step_times(("default", "web"), "d1") == {}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_access_rules() -> None:
    assert Access().allows(None)
    token = Access(token="tok-123456")
    assert token.allows("Bearer tok-123456") and token.allows("bearer  tok-123456")
    assert not token.allows(None) and not token.allows("Bearer tok-1234567")
    assert not token.allows(basic("x", "tok-123456"))
    assert token.challenge == 'Bearer realm="nomad-reconciler"'
    both = Access(token="tok-123456", basic=("ops", "pa:ss-word"))
    assert both.allows(basic("ops", "pa:ss-word")) and both.allows("Bearer tok-123456")
    assert not both.allows(basic("ops", "wrong")) and not both.allows(basic("root", "pa:ss-word"))
    assert not both.allows("Basic !!notbase64")
    assert both.challenge.startswith('Basic realm="nomad-reconciler"')


def test_read_access_from_files_registers_the_secrets(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token-abcdef\n")
    auth_file = tmp_path / "auth"
    auth_file.write_text("ops:basic-pass-123456\n")
    access = read_access(DaemonSettings(ui=UiSettings(token_file=str(token_file),
                                                   basic_auth_file=str(auth_file))))  # fmt: skip
    assert access.token == "file-token-abcdef"
    assert access.basic == ("ops", "basic-pass-123456")
    assert "file-token-abcdef" not in scrub("token file-token-abcdef")
    assert "basic-pass-123456" not in scrub("pass basic-pass-123456")
    assert not read_access(DaemonSettings()).required


def test_read_access_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ui_token file .*missing: cannot read it"):
        read_access(DaemonSettings(ui=UiSettings(token_file=str(tmp_path / "missing"))))
    bad = tmp_path / "auth"
    bad.write_text("no-colon-here")
    with pytest.raises(ConfigError, match=rf"{bad}: expected USER:PASSWORD"):
        read_access(DaemonSettings(ui=UiSettings(basic_auth_file=str(bad))))
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="it is empty"):
        read_access(DaemonSettings(ui=UiSettings(token_file=str(empty))))


def test_pages_are_woken_only_when_what_they_show_moved() -> None:
    from types import SimpleNamespace

    from reconciler.observability.metrics import ReconcilerMetrics
    from reconciler.statuspage.app import StatusPage

    metrics = ReconcilerMetrics()
    page = StatusPage(DaemonSettings(), access=Access())
    page.daemon = SimpleNamespace(metrics=metrics, revision=None)  # type: ignore[assignment]
    key = ("default", "web")
    metrics.set_job_state(key, "held", held_reason="wave")
    version = page.feed.version
    page.job_handled(key)
    assert page.feed.version == version + 1  # a hold decided without an outcome
    page.job_handled(key)
    assert page.feed.version == version + 1  # a re-check that changed nothing
    assert metrics.job_state(key) == metrics.job_states()[key]
    assert metrics.job_state(("default", "other")) is None

    running = {"ID": "d1", "Status": "running", "StatusDescription": "Deployment is running",
               "TaskGroups": {"web": {"DesiredTotal": 2, "HealthyAllocs": 0}}}
    page.deployment_observed(key, parse_deployment(running), "running")
    page.deployment_observed(key, parse_deployment(dict(running)), "running")
    assert page.feed.version == version + 2
    healthier = {**running, "TaskGroups": {"web": {"DesiredTotal": 2, "HealthyAllocs": 1}}}
    page.deployment_observed(key, parse_deployment(healthier), "running")
    assert page.feed.version == version + 3
    page.job_handled(("*", "*"))
    assert page.feed.version == version + 4 and page.last_pass_at is not None
