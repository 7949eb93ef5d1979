"""The simulated client node: which drivers it has, and tasks that cannot run."""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.testing.fake_nomad import FakeNomad, HealthModel


def _job(job_id: str, *, driver: str, command: str = "/bin/sleep", update: dict[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"image": "redis:7"} if driver == "docker" else {"command": command, "args": ["60"]}
    group: dict[str, Any] = {"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Driver": driver, "Config": config}]}
    if update:
        group["Update"] = update
    return {"ID": job_id, "Name": job_id, "Type": "service", "Datacenters": ["dc1"], "TaskGroups": [group]}


def _register(fake: FakeNomad, job: dict[str, Any]) -> None:
    httpx.put(f"{fake.address}/v1/jobs", json={"Job": job}).raise_for_status()


def _status(fake: FakeNomad, job_id: str) -> str:
    # In-process read: wait_for() calls it under the fake's lock, where HTTP would deadlock.
    return str((fake.read_job(job_id) or {}).get("Status"))


def test_a_driver_the_node_lacks_leaves_the_job_queued_as_on_the_recording_agent() -> None:
    with FakeNomad() as fake:
        _register(fake, _job("cache", driver="docker"))
        _register(fake, _job("sleeper", driver="exec"))
        assert fake.wait_for(lambda: _status(fake, "sleeper") == "running")
        assert _status(fake, "cache") == "pending"
        summary = httpx.get(f"{fake.address}/v1/job/cache/summary").json()
        assert summary["Summary"]["g"]["Queued"] == 1


def test_drivers_can_be_given_to_the_node() -> None:
    with FakeNomad(drivers=("exec", "docker")) as fake:
        _register(fake, _job("cache", driver="docker"))
        assert fake.wait_for(lambda: _status(fake, "cache") == "running")


def test_a_task_running_false_fails_its_deployment_and_is_reverted() -> None:
    update = {"MaxParallel": 1, "MinHealthyTime": 1_000_000_000, "HealthyDeadline": 2_000_000_000,
              "ProgressDeadline": 3_000_000_000, "AutoRevert": True}
    with FakeNomad(health=HealthModel(time_scale=0.05)) as fake:
        _register(fake, _job("app", driver="exec", update=update))
        assert fake.wait_for(lambda: (fake.latest_deployment("app") or {}).get("Status") == "successful")
        _register(fake, _job("app", driver="exec", command="/bin/false", update=update))

        # Nomad rolled the job back to version 0's spec, as a new version 2 ...
        assert fake.wait_for(lambda: (fake.read_job("app") or {}).get("Version") == 2, timeout=20)
        # ... because version 1's deployment failed.
        deployments = httpx.get(f"{fake.address}/v1/job/app/deployments").json()
        (v1,) = [d for d in deployments if d["JobVersion"] == 1]
        assert v1["Status"] == "failed"
        assert "rolling back to job version 0" in v1["StatusDescription"]
        job = httpx.get(f"{fake.address}/v1/job/app").json()
        assert job["TaskGroups"][0]["Tasks"][0]["Config"]["command"] == "/bin/sleep"
