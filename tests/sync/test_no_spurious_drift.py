"""No spurious drift and no needless writes, on every Nomad the suite can reach.

Every valid corpus job and every example job of ``jobs/`` is synced, then
planned: the plan must exit 0 with every job in sync, and a second sync must
write nothing.  Run from the HCL2 sources (converter + canonical form + diff +
Nomad's read-back together) and from the recorded ``nomad job run -output``
JSON (independent of the converter); against the fake at the oldest and the
newest Nomad version it models, and against a real dev agent when a ``nomad``
binary is on PATH.

A bare dev agent has no Vault: the jobs it refuses are named below with
Nomad's reason, asserted to fail for exactly that reason, and then set aside;
the assertion stays whole for every other job.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import main
from reconciler.testing.fake_nomad import FakeNomad, HealthModel
from tests.support.git import GitCheckout
from tests.support.jobs import GOLDEN
from tests.support.nomad_backends import FAKE_VERSIONS, purge_all_jobs

EXAMPLES = Path(__file__).resolve().parents[2] / "jobs"

# Jobs a bare `nomad agent -dev` refuses to register, with the reason Nomad gives.
REFUSED_BY_BARE_AGENT = {"22-vault": "Vault not enabled and Vault policies requested"}


def corpus() -> list[str]:
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    return [entry["file"].removesuffix(".nomad") for entry in manifest["valid"]]


def copy_corpus(repo: GitCheckout, form: str) -> None:
    for name in corpus():
        if form == "hcl":
            shutil.copy(GOLDEN / f"{name}.nomad", repo.root / f"{name}.nomad")
            for companion in GOLDEN.glob(f"{name}.vars.*"):
                shutil.copy(companion, repo.root / companion.name)
        else:
            shutil.copy(GOLDEN / f"{name}.output.json", repo.root / f"{name}.json")
    repo.commit(f"corpus ({form})")


class Nomad:
    """The Nomad a test syncs against, with the few direct calls the test needs."""

    def __init__(self, kind: str, address: str, fake: FakeNomad | None = None) -> None:
        self.kind = kind
        self.address = address
        self.fake = fake
        self.http = httpx.Client(base_url=address, trust_env=False, timeout=15.0)

    def jobs(self) -> dict[tuple[str, str], dict[str, Any]]:
        stubs = self.http.get("/v1/jobs", params={"namespace": "*"}).json()
        return {(s.get("Namespace") or "default", s["ID"]): s for s in stubs}

    def modify_indexes(self) -> dict[tuple[str, str], int]:
        return {k: int(s["JobModifyIndex"]) for k, s in self.jobs().items()}

    def allocation_versions(self, job_id: str, namespace: str = "default") -> set[int]:
        """The job versions the job's allocations run.  Not their IDs: on a real agent
        Nomad itself replaces a failed allocation (a bridge network without CNI
        plugins), while a write by the reconciler would place a newer job version."""
        allocs = self.http.get(f"/v1/job/{job_id}/allocations", params={"namespace": namespace})
        return {int(a["JobVersion"]) for a in allocs.json()}

    def wait_scheduled(self, job_id: str, *, timeout_s: float = 120.0) -> None:
        """Wait until Nomad has finished scheduling the job (no evaluation pending), so
        that its allocations are all there before the test takes note of them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            evals = self.http.get(f"/v1/job/{job_id}/evaluations").json()
            if evals and not any(e.get("Status") == "pending" for e in evals):
                return
            time.sleep(0.05)  # polling Nomad's scheduler; bounded by the deadline
        raise AssertionError(f"{job_id}: an evaluation still pending after {timeout_s}s")

    def wait_deployment_done(self, job_id: str, *, timeout_s: float = 240.0) -> None:
        """Nomad refuses a scale while a deployment runs: wait until the job's is over."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dep = self.http.get(f"/v1/job/{job_id}/deployment").json()
            if not dep or dep.get("Status") not in ("running", "pending", "paused"):
                return
            index = self.http.get(f"/v1/job/{job_id}/deployment").headers["X-Nomad-Index"]
            self.http.get(  # a blocking query: returns when the deployment changes
                f"/v1/job/{job_id}/deployment", params={"index": index, "wait": "2s"}
            )
        raise AssertionError(f"deployment of {job_id} still running after {timeout_s}s")

    def ensure_namespace(self, name: str) -> None:
        self.http.put("/v1/namespace", json={"Name": name}).raise_for_status()


@pytest.fixture(
    params=[
        # 1.6 too: the release that added NodePool, submissions and more defaults.
        *(pytest.param(("fake", v), id=f"fake-{v}") for v in sorted({*FAKE_VERSIONS, "1.6.0"})),
        pytest.param(("real", ""), id="real", marks=pytest.mark.real_nomad),
    ]
)
def nomad(request: pytest.FixtureRequest) -> Iterator[Nomad]:
    kind, version = request.param
    if kind == "real":
        address: str = request.getfixturevalue("nomad_agent")
        purge_all_jobs(address)
        backend = Nomad("real", address)
        yield backend
        backend.http.close()
        purge_all_jobs(address)  # the agent is shared by the session's real-Nomad tests
        return
    with FakeNomad(version=version, health=HealthModel(time_scale=0.01)) as fake:
        backend = Nomad("fake", fake.address, fake)
        yield backend
        backend.http.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def set_aside_refused(nomad: Nomad, repo: GitCheckout, doc: dict[str, Any], suffix: str) -> None:
    """Check that exactly the jobs a bare agent cannot take failed, for Nomad's reason; drop them."""
    failed = {j["path"]: j["message"] for j in doc["jobs"] if j["result"] == "failed"}
    expected = (
        {f"{name}{suffix}": reason for name, reason in REFUSED_BY_BARE_AGENT.items()}
        if nomad.kind == "real"
        else {}
    )
    assert set(failed) == set(expected), failed
    for path, reason in expected.items():
        assert reason in failed[path]
        (repo.root / path).unlink()
    if expected:
        repo.commit("set aside jobs this agent cannot accept")


@pytest.mark.parametrize("form", ["hcl", "json"])
def test_sync_then_plan_is_in_sync_and_a_second_sync_writes_nothing(
    nomad: Nomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    copy_corpus(repo, form)
    code, doc = run(capsys, "sync", str(repo.root), "--address", nomad.address)
    set_aside_refused(nomad, repo, doc, ".nomad" if form == "hcl" else ".json")
    assert doc["summary"]["created"] == len(
        list(repo.root.glob("*.nomad" if form == "hcl" else "*.json"))
    )

    before = nomad.modify_indexes()
    for argv in (("plan", "--refresh"), ("plan",)):
        code, doc = run(capsys, argv[0], str(repo.root), "--address", nomad.address, *argv[1:])
        drifted = {
            j["id"]: j["changes"] or j["reason"] for j in doc["jobs"] if j["state"] != "in_sync"
        }
        assert drifted == {} and doc["errors"] == [] and code == 0

    code, doc = run(capsys, "sync", str(repo.root), "--address", nomad.address)
    assert code == 0 and doc["summary"]["created"] == doc["summary"]["updated"] == 0
    assert nomad.modify_indexes() == before, "a second sync must not write"


def test_example_jobs_in_two_namespaces_are_in_sync_after_their_sync(
    nomad: Nomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(EXAMPLES, repo.root, dirs_exist_ok=True)
    repo.commit("examples")
    nomad.ensure_namespace("platform")
    code, doc = run(capsys, "sync", str(repo.root), "--address", nomad.address)
    assert code == 0, [j["message"] for j in doc["jobs"] if j["result"] == "failed"]
    before = nomad.modify_indexes()
    for extra in ((), ("--namespace", "platform")):
        code, doc = run(capsys, "plan", str(repo.root), "--address", nomad.address, *extra)
        assert code == 0 and {j["state"] for j in doc["jobs"]} == {"in_sync"}, doc["jobs"]
    assert {j["namespace"] for j in doc["jobs"]} == {"platform"}
    code, doc = run(capsys, "sync", str(repo.root), "--address", nomad.address)
    assert code == 0 and nomad.modify_indexes() == before


def test_jobs_run_by_hand_are_adopted_without_a_write_and_a_hand_scale_is_still_drift(
    nomad: Nomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    # As `nomad job run` would: the files' own JSON, registered directly, no ownership stamp.
    names = ["01-minimal-service", "14-networking", "15-services-checks", "16-template-blocks"]
    for name in names:
        shutil.copy(GOLDEN / f"{name}.output.json", repo.root / f"{name}.json")
        body = json.loads((GOLDEN / f"{name}.output.json").read_text())
        nomad.http.put("/v1/jobs", json=body).raise_for_status()
    repo.commit("jobs already running")
    ids = {name: json.loads((GOLDEN / f"{name}.output.json").read_text())["Job"]["ID"]
           for name in names}  # fmt: skip
    for name in names:
        nomad.wait_scheduled(ids[name])
    allocations = {name: nomad.allocation_versions(ids[name]) for name in names}
    before = nomad.modify_indexes()

    code, doc = run(capsys, "sync", str(repo.root), "--address", nomad.address)
    assert code == 0 and {j["result"] for j in doc["jobs"]} == {"unchanged"}, doc["jobs"]
    assert nomad.modify_indexes() == before, (
        "adoption must not write (a Meta change replaces allocations)"
    )
    assert {name: nomad.allocation_versions(ids[name]) for name in names} == allocations

    web = ids["01-minimal-service"]
    nomad.wait_deployment_done(web)
    group = json.loads((GOLDEN / "01-minimal-service.output.json").read_text())["Job"][
        "TaskGroups"
    ][0]
    nomad.http.post(
        f"/v1/job/{web}/scale",
        json={"Count": int(group["Count"] or 1) + 2, "Target": {"Group": group["Name"]}},
    ).raise_for_status()
    code, doc = run(capsys, "plan", str(repo.root), "--address", nomad.address)
    assert code == 2
    jobs = {j["id"]: j for j in doc["jobs"]}
    scaled = jobs.pop(web)
    # modified, or held while the deployment of the adopted job still runs: drift either way
    assert scaled["state"] in ("modified", "held") and '"Count"' in json.dumps(scaled["changes"])
    assert {j["state"] for j in jobs.values()} == {"in_sync"}


def test_server_parser_agrees_with_the_local_one_and_names_files_it_cannot_do(
    fake: FakeNomad, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_corpus(repo, "hcl")
    with_vars = {p.name.split(".")[0] + ".nomad" for p in repo.root.glob("*.vars.*")}
    assert with_vars, "the corpus has jobs with companion variable files"
    code = main(["sync", str(repo.root), "--address", fake.address, "--parser", "server"])
    out = capsys.readouterr().out
    # Nomad's parse API takes variables from 1.6.0; before, the files that need them fail alone
    refused = set() if fake.version_at_least(1, 6, 0) else with_vars
    assert code == (1 if refused else 0)
    for name in refused:
        assert f"error: {name}: Nomad's parser refused it" in out
    assert f"{len(corpus()) - len(refused)} created" in out
    # what the server parsed is exactly what the local converter produces
    code = main(["plan", str(repo.root), "--address", fake.address, "--json", "--refresh"])
    doc = json.loads(capsys.readouterr().out)
    assert {j["path"] for j in doc["jobs"] if j["state"] != "in_sync"} == refused
    assert {j["state"] for j in doc["jobs"] if j["path"] in refused} <= {"missing"}


def plan_requests(fake: FakeNomad) -> list[str]:
    return [path for method, path, *_ in fake.request_log if path.endswith("/plan")]


@pytest.mark.parametrize("version", sorted({*FAKE_VERSIONS, "1.6.0", "1.8.0", "1.10.0"}))
def test_the_local_model_knows_each_versions_defaults_so_nomad_is_not_asked(
    version: str, repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    """Adopted jobs (no stamp) are read and diffed locally; with the version's defaults
    filled in, none is flagged, so a no-op plan asks Nomad's plan nothing."""
    copy_corpus(repo, "json")
    with FakeNomad(version=version, health=HealthModel(time_scale=0.01)) as fake:
        for path in sorted(repo.root.glob("*.json")):
            httpx.put(f"{fake.address}/v1/jobs", json=json.loads(path.read_text()),
                      timeout=10).raise_for_status()  # fmt: skip
        fake.clear_request_log()
        code, doc = run(capsys, "plan", str(repo.root), "--address", fake.address)
        assert code == 0 and {j["state"] for j in doc["jobs"]} == {"in_sync"}
        assert plan_requests(fake) == []


def test_defaults_unknown_to_the_local_model_are_overruled_by_nomad_never_written(
    repo: GitCheckout, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Nomad newer than the local model stores fields it does not know: Nomad's plan
    says nothing changes, so nothing is written, on the first sync and the next."""
    copy_corpus(repo, "json")
    unknown = {"FutureJobField": "x"}
    with FakeNomad(
        version=FAKE_VERSIONS[-1], health=HealthModel(time_scale=0.01),
        extra_readback=unknown, extra_task_readback={"FutureTaskField": True},
    ) as fake:  # fmt: skip
        for path in sorted(repo.root.glob("*.json")):
            httpx.put(f"{fake.address}/v1/jobs", json=json.loads(path.read_text()),
                      timeout=10).raise_for_status()  # fmt: skip
        backend = Nomad("fake", fake.address, fake)
        before = backend.modify_indexes()
        fake.clear_request_log()
        code, doc = run(capsys, "sync", str(repo.root), "--address", fake.address)
        assert code == 0 and {j["result"] for j in doc["jobs"]} == {"unchanged"}
        assert len(plan_requests(fake)) == len(corpus()), "each flagged job asked once"
        assert backend.modify_indexes() == before
        code, doc = run(capsys, "plan", str(repo.root), "--address", fake.address)
        assert code == 0 and {j["state"] for j in doc["jobs"]} == {"in_sync"}
        backend.http.close()
