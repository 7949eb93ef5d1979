"""The status page over HTTP, served by the daemon as a real subprocess against the Nomad fake:
the JSON API is the CLI's documents, the page is read-only, escaped and access-controlled."""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import REPO_ROOT, DaemonProcess
from tests.support.git import GitCheckout
from tests.support.statuspage import SECRET_IN_FILE, make_checkout
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

StartDaemon = Callable[..., DaemonProcess]


def cli_json(*args: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    proc = subprocess.run([sys.executable, "-m", "reconciler", *args, "--json"], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.stdout, proc.stderr
    doc: dict[str, object] = json.loads(proc.stdout)
    return doc


def settled(daemon: DaemonProcess) -> Callable[[], dict[str, object] | None]:
    """A check: the status document once every job is in sync and two reads agree."""
    previous: list[object] = [None]

    def check() -> dict[str, object] | None:
        doc = httpx.get(daemon.url + "/api/v1/status", timeout=30).json()
        stable = doc == previous[0] and all(j["state"] == "in_sync" for j in doc["jobs"])
        previous[0] = doc
        return doc if stable else None

    return check


def test_json_api_returns_the_status_and_plan_documents_of_the_cli(
    fake: FakeNomad, tmp_path: Path, start_daemon: StartDaemon
) -> None:
    repo = make_checkout(tmp_path / "jobs", fake)
    daemon = start_daemon(repo.root, fake.address)
    daemon.wait_ready(timeout=60)
    wait_until(settled(daemon), timeout=60, what="every job in sync")

    def same_as_cli() -> dict[str, object] | None:
        # Rollouts still finishing may change a document between the two reads: read again.
        status = cli_json("status", str(repo.root), "--address", fake.address)
        doc: dict[str, object] = httpx.get(daemon.url + "/api/v1/status", timeout=30).json()
        return doc if doc == status else None

    doc = wait_until(same_as_cli, timeout=60, what="/api/v1/status == status --json")
    assert doc["schema"] == "nomad-reconciler/v1" and doc["command"] == "status"

    api = httpx.get(daemon.url + "/api/v1/jobs/default/billing", timeout=30)
    assert api.status_code == 200 and api.headers["content-type"] == "application/json"
    plan = cli_json("plan", str(repo.root), "--address", fake.address)
    job_doc = api.json()
    assert job_doc["command"] == "plan"
    assert job_doc["jobs"] == [j for j in plan["jobs"] if j["id"] == "billing"]  # type: ignore[attr-defined]
    for key in ("schema", "server_version", "revision", "in_sync"):
        assert job_doc[key] == plan[key]
    assert SECRET_IN_FILE not in api.text

    missing = httpx.get(daemon.url + "/api/v1/jobs/default/no-such-job", timeout=30)
    assert missing.status_code == 404
    assert missing.json()["error"].startswith("no job no-such-job in namespace default")


def test_pages_are_read_only_escaped_and_strict(
    fake: FakeNomad, tmp_path: Path, start_daemon: StartDaemon
) -> None:
    repo = make_checkout(tmp_path / "jobs", fake)
    daemon = start_daemon(repo.root, fake.address, "--no-self-heal")
    daemon.wait_ready(timeout=60)
    # Someone changes the job by hand: its Meta now holds markup, and a secret env value.
    wait_until(lambda: fake.read_job("markup") and fake.read_job("billing"), what="registered")
    by_hand = copy.deepcopy(fake.read_job("markup"))
    assert by_hand is not None
    by_hand["Meta"] = {**(by_hand.get("Meta") or {}), "note": "<script>alert(1)</script>"}
    fake.run_job_out_of_band(by_hand)
    page = wait_until(lambda: (r := httpx.get(daemon.url + "/jobs/default/markup", timeout=30))
                      and "Meta[note]" in r.text and r, what="the diff on the job page")  # fmt: skip
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    # No inline script anywhere: the only script is the packaged file.
    assert page.text.count("<script") == 1 and '<script src="/static/app.js" defer>' in page.text

    js = httpx.get(daemon.url + "/static/app.js", timeout=10)
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in js.text
    assert httpx.get(daemon.url + "/static/../app.py", timeout=10).status_code == 404

    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", "/api/v1/status", "/api/v1/jobs/default/markup"):
            refused = httpx.request(method, daemon.url + path, timeout=10)
            assert refused.status_code == 405, (method, path)
            assert refused.headers["allow"] == "GET, HEAD"
    assert httpx.get(daemon.url + "/jobs/default/nope", timeout=30).status_code == 404

    with httpx.stream("GET", daemon.url + "/events", timeout=10) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        first = next(events.iter_lines())
        assert first == "retry: 2000"


def test_overview_without_javascript_filters_and_searches(
    fake: FakeNomad, tmp_path: Path, start_daemon: StartDaemon
) -> None:
    repo = make_checkout(tmp_path / "jobs", fake)
    daemon = start_daemon(repo.root, fake.address)
    daemon.wait_ready(timeout=60)
    page = httpx.get(daemon.url + "/", timeout=30).text
    for job in ("web", "redis", "echo-server", "counter", "billing"):
        assert f'data-job="{job}"' in page
    assert 'id="filters"' in page and 'method="get"' in page
    only = httpx.get(daemon.url + "/", params={"ns": "platform"}, timeout=30).text
    assert 'data-job="redis"' in only and 'data-job="web"' not in only
    found = httpx.get(daemon.url + "/", params={"q": "COUNT"}, timeout=30).text
    assert 'data-job="counter"' in found and 'data-job="redis"' not in found
    assert "1 of " in found


def test_access_control_when_configured(
    fake: FakeNomad, tmp_path: Path, start_daemon: StartDaemon
) -> None:
    repo = GitCheckout(tmp_path / "jobs")
    repo.write("README.md", "no jobs yet\n")
    repo.commit("empty")
    auth_file = tmp_path / "ui-auth"
    auth_file.write_text("ops:basic-pass-8c1d2e\n")
    config = tmp_path / "reconciler.toml"
    config.write_text('ui_token = "bearer-token-5b6a7f"\n')
    daemon = start_daemon(repo.root, fake.address, "--config", str(config),
                          "--ui-basic-auth-file", str(auth_file))  # fmt: skip
    daemon.wait_ready(timeout=60)
    denied = httpx.get(daemon.url + "/", timeout=10)
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"].startswith('Basic realm="nomad-reconciler"')
    for path in ("/api/v1/status", "/events", "/jobs/default/x", "/static/app.js"):
        assert httpx.get(daemon.url + path, timeout=10).status_code == 401, path
    basic = "Basic " + base64.b64encode(b"ops:basic-pass-8c1d2e").decode()
    assert httpx.get(daemon.url + "/", headers={"Authorization": basic},
                     timeout=30).status_code == 200  # fmt: skip
    bearer = {"Authorization": "Bearer bearer-token-5b6a7f"}
    assert httpx.get(daemon.url + "/api/v1/status", headers=bearer, timeout=30).status_code == 200
    wrong = {"Authorization": "Bearer bearer-token-5b6a7"}
    assert httpx.get(daemon.url + "/api/v1/status", headers=wrong, timeout=30).status_code == 401
    # Scrapes and health checks stay open: Prometheus and Nomad's checks carry no credentials.
    assert httpx.get(daemon.url + "/metrics", timeout=10).status_code == 200
    assert httpx.get(daemon.url + "/healthz", timeout=10).status_code == 200
    assert daemon.stop() == 0
    logs = "".join(daemon.raw)
    assert "basic-pass-8c1d2e" not in logs and "bearer-token-5b6a7f" not in logs


def test_missing_credentials_file_stops_the_daemon_naming_it(
    fake: FakeNomad, tmp_path: Path
) -> None:
    missing = tmp_path / "nope"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "daemon", str(tmp_path), "--address", fake.address,
         "--listen", "127.0.0.1:0", "--ui-token-file", str(missing)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"ui_token file {missing}: cannot read it" in proc.stderr


def test_no_ui_keeps_only_metrics_and_health(
    fake: FakeNomad, tmp_path: Path, start_daemon: StartDaemon
) -> None:
    repo = GitCheckout(tmp_path / "jobs")
    repo.write("README.md", "no jobs\n")
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, "--no-ui")
    daemon.wait_ready(timeout=60)
    index = httpx.get(daemon.url + "/", timeout=10)
    assert index.status_code == 200 and '<a href="/metrics">' in index.text
    assert "data-live" not in index.text
    assert httpx.get(daemon.url + "/api/v1/status", timeout=10).status_code == 404
