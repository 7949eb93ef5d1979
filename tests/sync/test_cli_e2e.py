"""End to end: the real CLI on a real git checkout against the Nomad fake over HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.fake_state import WriteLedger
from tests.support.git import GitCheckout
from tests.support.jobs import service_job


def cli(fake: FakeNomad, *args: str) -> int:
    return main([*args[:1], "--address", fake.address, *args[1:]])


def plans(fake: FakeNomad) -> list[str]:
    return [p.split("/")[3] for m, p, _, s in fake.request_log if p.endswith("/plan")]


def http(fake: FakeNomad, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(fake.address + path, data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


def plan_json(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli(fake, "plan", str(repo.root), "--json", *extra)
    return code, json.loads(capsys.readouterr().out)


def states(doc: dict[str, Any]) -> dict[str, str]:
    return {j["id"]: j["state"] for j in doc["jobs"]}


def test_git_history_drives_creates_updates_noops_and_prunes(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("api", "web", "worker"):
        repo.write_job(service_job(name))
    repo.commit("three jobs")
    # --wait: a later change to a job whose deployment still runs would be held
    ledger = WriteLedger(fake)
    assert cli(fake, "sync", str(repo.root), "--wait", "--timeout", "30") == 0
    assert sorted(ledger.new()) == [
        ("register", "api"),
        ("register", "web"),
        ("register", "worker"),
    ]
    assert "3 created" in capsys.readouterr().out

    ledger.mark()
    assert cli(fake, "sync", str(repo.root)) == 0
    assert ledger.new() == [], "a no-op sync must not write"

    repo.write_job(service_job("web", count=2))
    repo.commit("scale web")
    fake.clear_request_log()
    ledger.mark()
    assert cli(fake, "sync", str(repo.root)) == 0
    assert ledger.new() == [("register", "web")] and plans(fake) == ["web"]
    assert http(fake, "GET", "/v1/job/web")["TaskGroups"][0]["Count"] == 2

    repo.git("rm", "-q", "worker.json")
    repo.commit("remove worker")
    ledger.mark()
    assert cli(fake, "sync", str(repo.root)) == 0
    assert ledger.new() == [], "no prune without --prune"
    code, doc = plan_json(fake, repo, capsys)
    assert code == 2 and states(doc)["worker"] == "orphaned"
    ledger.mark()
    assert cli(fake, "sync", str(repo.root), "--prune") == 0
    assert ledger.new() == [("deregister", "worker")]
    assert http(fake, "GET", "/v1/job/worker")["Stop"] is True
    code, doc = plan_json(fake, repo, capsys)
    assert code == 0 and doc["in_sync"]


def test_empty_or_broken_checkout_never_prunes(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a", "b", "c"):
        repo.write_job(service_job(name))
    repo.commit("jobs")
    assert cli(fake, "sync", str(repo.root)) == 0
    repo.git("checkout", "-q", "--orphan", "empty")
    repo.git("rm", "-rqf", ".")
    repo.commit("empty branch")
    ledger = WriteLedger(fake)
    ledger.mark()
    assert cli(fake, "sync", str(repo.root), "--prune", "--max-prune", "1") == 1
    assert ledger.new() == []
    assert "declares no job" in capsys.readouterr().out

    repo.git("checkout", "-q", "main")
    (repo.root / "b.json").write_text('{"Job": {"ID": "b", ')  # a half-edited file
    (repo.root / "c.json").unlink()  # c really is gone, but the checkout is broken
    repo.commit("a broken commit")
    ledger.mark()
    assert cli(fake, "sync", str(repo.root), "--prune", "--max-prune", "1") == 1
    out = capsys.readouterr().out
    assert "error: b.json:1," in out and "prune refused: 1 file(s) failed to load" in out
    assert ledger.new() == []
    code, doc = plan_json(fake, repo, capsys, "--prune", "--max-prune", "1")
    assert code == 1
    assert states(doc) == {"a": "in_sync", "b": "error", "c": "orphaned"}
    assert [j["action"] for j in doc["jobs"] if j["id"] == "c"] == ["hold"]


def test_out_of_band_changes_show_as_drift(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("scaled", "edited", "stopped", "deleted", "calm"):
        repo.write_job(service_job(name))
    repo.commit("jobs")
    # --wait: Nomad refuses to scale a job while its deployment runs
    capsys.readouterr()
    assert cli(fake, "sync", str(repo.root), "--wait", "--timeout", "30") == 0
    assert "deployment" in capsys.readouterr().out
    http(fake, "POST", "/v1/job/scaled/scale",
         {"Count": 3, "Target": {"Group": "app"}, "Message": "by hand"})  # fmt: skip
    fake.run_job_out_of_band(service_job("edited", Priority=90))
    http(fake, "DELETE", "/v1/job/stopped")
    http(fake, "DELETE", "/v1/job/deleted?purge=true")
    code, doc = plan_json(fake, repo, capsys)
    assert code == 2
    found = states(doc)
    # scale and edit start a deployment in Nomad: the drift is held behind it
    assert {found["scaled"], found["edited"]} <= {"modified", "held"}
    assert {k: found[k] for k in ("stopped", "deleted", "calm")} == {
        "stopped": "modified", "deleted": "missing", "calm": "in_sync",
    }  # fmt: skip
    by_id = {j["id"]: j for j in doc["jobs"]}
    scaled_group = by_id["scaled"]["changes"]["objects"][0]
    assert scaled_group["fields"] == [
        {"kind": "edited", "name": "Count", "old": 3, "new": 1, "sensitive": False}
    ]
    edited = by_id["edited"]["changes"]["fields"]
    assert [(f["name"], f["old"], f["new"]) for f in edited] == [("Priority", 90, 50)]
    assert by_id["stopped"]["reason"] and "stopped" in by_id["stopped"]["reason"]
    assert cli(fake, "sync", str(repo.root), "--supersede") == 0
    code, doc = plan_json(fake, repo, capsys)
    assert code == 0, doc


def test_waves_are_registered_in_order(fake: FakeNomad, repo: GitCheckout) -> None:
    repo.write_job(service_job("web", Meta={"gitops.wave": "2"}))
    repo.write_job(service_job("db", Meta={"gitops.wave": "-1"}))
    repo.write_job(service_job("api"))
    repo.commit("waves")
    ledger = WriteLedger(fake)
    assert cli(fake, "sync", str(repo.root)) == 0
    assert ledger.new() == [("register", "db"), ("register", "api"), ("register", "web")]


def test_json_output_is_stable(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    job = service_job("web")
    job["TaskGroups"][0]["Tasks"][0]["Env"] = {"DB_PASSWORD": "hunter2"}
    repo.write_job(job)
    repo.commit("web")
    code, doc = plan_json(fake, repo, capsys)
    assert code == 2
    assert list(doc) == [
        "schema", "command", "exit_code", "dry_run", "server_version", "revision", "in_sync",
        "plan", "summary", "unmanaged", "errors", "refusals", "jobs",
    ]  # fmt: skip
    assert doc["schema"] == "nomad-reconciler/v1" and doc["exit_code"] == 2
    assert doc["revision"] == {
        "commit": repo.git("rev-parse", "HEAD").strip(),
        "dirty": False,
        "ref": "main",
    }
    assert doc["plan"] == {
        "create": 1,
        "update": 0,
        "prune": 0,
        "purge": 0,
        "promote": 0,
        "hold": 0,
        "none": 0,
    }
    [entry] = doc["jobs"]
    assert list(entry) == [
        "namespace", "id", "path", "state", "action", "reason", "wave", "owned", "digest",
        "live_digest", "job_modify_index", "version", "status", "deployment", "notes", "changes",
        "result", "message", "cause", "annotations", "warnings", "rollout", "analysis",
    ]  # fmt: skip
    assert entry["annotations"] == {"app": {**entry["annotations"]["app"], "Place": 1}}
    assert "hunter2" not in json.dumps(doc)
    assert cli(fake, "sync", str(repo.root)) == 0
    # a changed secret is drift, shown redacted unless --show-secrets
    job["TaskGroups"][0]["Tasks"][0]["Env"] = {"DB_PASSWORD": "swordfish"}
    repo.write_job(job)
    repo.commit("rotate")
    code, doc = plan_json(fake, repo, capsys)
    assert code == 2 and "swordfish" not in json.dumps(doc) and "hunter2" not in json.dumps(doc)
    code, doc = plan_json(fake, repo, capsys, "--show-secrets")
    assert "swordfish" in json.dumps(doc)
    capsys.readouterr()
    assert cli(fake, "plan", str(repo.root), "--no-color") == 2
    text = capsys.readouterr().out
    assert "Env[DB_PASSWORD]" in text and "swordfish" not in text and "\x1b[" not in text


def test_nomad_unreachable_is_an_actionable_error(
    repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write_job(service_job("web"))
    code = main(["plan", str(repo.root), "--address", "http://127.0.0.1:9"])
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot reach Nomad at http://127.0.0.1:9" in err
    assert main(["sync", str(repo.root), "--address", "http://127.0.0.1:9", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == 1 and doc["error"].startswith(
        "cannot reach Nomad at http://127.0.0.1:9"
    )


def test_a_job_nomad_refuses_fails_alone(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = service_job("bad")
    bad["TaskGroups"][0]["Tasks"][0]["Driver"] = ""
    repo.write_job(bad)
    repo.write_job(service_job("good"))
    repo.commit("one bad job")
    assert cli(fake, "sync", str(repo.root)) == 1
    out = capsys.readouterr().out
    # the file and the line of the task Nomad blames, then Nomad's own message
    assert re.search(
        r"rejected \(fix the file\): bad\.json:\d+: Nomad refused job 'bad': .*Missing task driver",
        out,
        re.S,
    ), out
    assert http(fake, "GET", "/v1/job/good")["ID"] == "good"


def test_a_job_the_cluster_refuses_says_the_cluster_not_the_file(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write_job({**service_job("api"), "Namespace": "team2"})  # no such namespace (yet)
    repo.write_job(service_job("good"))
    repo.commit("a job in a namespace that does not exist")
    assert cli(fake, "sync", str(repo.root)) == 1
    out = capsys.readouterr().out
    assert re.search(
        r"failed \(cluster: the same file may pass later\): .*nonexistent namespace \"team2\"",
        out,
        re.S,
    ), out
    assert "fix the file" not in out
    assert cli(fake, "sync", str(repo.root), "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert {j["id"]: j["cause"] for j in doc["jobs"]} == {"api": "cluster", "good": None}
    http(fake, "PUT", "/v1/namespace/team2", {"Name": "team2"})
    assert cli(fake, "sync", str(repo.root)) == 0  # the same file, once the cluster changed


def test_subprocess_plan_exit_codes(fake: FakeNomad, repo: GitCheckout) -> None:
    repo.write_job(service_job("web"))
    repo.commit("web")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    env["NO_COLOR"] = "1"
    argv = [sys.executable, "-m", "reconciler", "plan", str(repo.root), "--address", fake.address]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "create" in done.stdout and "Plan: 1 to create" in done.stdout
    sync = [sys.executable, "-m", "reconciler", "sync", str(repo.root), "--address", fake.address]
    assert subprocess.run(sync, env=env, capture_output=True, timeout=60).returncode == 0
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def test_a_matching_unowned_job_is_adopted_without_a_write(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.run_job_out_of_band(service_job("legacy"))  # deployed by hand before GitOps
    repo.write_job(service_job("legacy"))
    repo.commit("adopt legacy")
    ledger = WriteLedger(fake)
    ledger.mark()
    assert cli(fake, "sync", str(repo.root)) == 0
    assert ledger.new() == [], "stamping ownership alone would replace every allocation"
    code, doc = plan_json(fake, repo, capsys)
    [entry] = doc["jobs"]
    assert code == 0 and entry["state"] == "in_sync" and entry["owned"] is False
    repo.write_job(service_job("legacy", Priority=55))  # its next real change stamps it
    repo.commit("legacy: priority")
    assert cli(fake, "sync", str(repo.root), "--supersede") == 0
    assert http(fake, "GET", "/v1/job/legacy")["Meta"]["gitops.source"] == "legacy.json"


def test_fresh_plan_on_a_server_listing_meta_still_sees_a_scale(
    repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.testing.fake_nomad import HealthModel

    with FakeNomad(version="1.6.0", health=HealthModel(time_scale=0.01)) as fake:
        repo.write_job(service_job("web"))
        repo.write_job(service_job("calm"))
        repo.commit("jobs")
        assert cli(fake, "sync", str(repo.root), "--wait", "--timeout", "30") == 0
        fake.clear_request_log()
        code, doc = plan_json(fake, repo, capsys)
        assert code == 0
        assert [p for _, p, _, _ in fake.request_log if p.startswith("/v1/job/")] == []
        http(fake, "POST", "/v1/job/web/scale", {"Count": 3, "Target": {"Group": "app"}})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # bounded: until Nomad placed the new allocations
            summary = http(fake, "GET", "/v1/job/web/summary")["Summary"]["app"]
            if summary["Running"] + summary["Starting"] == 3:
                break
            fake.tick()
        fake.clear_request_log()
        code, doc = plan_json(fake, repo, capsys)
        assert code == 2 and states(doc)["web"] in ("modified", "held")
        reads = [
            p for _, p, _, _ in fake.request_log if p.startswith("/v1/job/") and "/" not in p[8:]
        ]
        assert reads == ["/v1/job/web"], "only the job whose summary disagrees is read"
