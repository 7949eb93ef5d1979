"""The daemon on a Nomad newer than its local model: Nomad's plan overrules, nothing is written.

The fake stores fields the project does not know (as a future Nomad would);
jobs already run by hand match their files.  The daemon must adopt them
without a write, export the disagreement as
``nomad_reconciler_canonical_mismatch_total{field}``, and report them in sync.
Runs at the oldest and the newest Nomad version the fake models.
"""

from __future__ import annotations

import httpx
import pytest

from reconciler.jobspec.loader import load_directory
from reconciler.jobspec.variables import VariableInputs
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import job_hcl
from tests.support.nomad_backends import FAKE_VERSIONS


@pytest.mark.parametrize("version", FAKE_VERSIONS)
def test_daemon_adopts_jobs_nomad_filled_with_unknown_fields_without_a_write(
    version: str, repo, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    for job_id in ("api", "web"):
        repo.write(f"{job_id}.nomad", job_hcl(job_id, count=2))
    repo.commit("two jobs")
    snapshot = load_directory(repo.root, inputs=VariableInputs())
    assert not snapshot.errors
    with FakeNomad(version=version, extra_readback={"FutureJobField": "x"}) as fake:
        for desired in snapshot.jobs:  # as `nomad job run` would: no ownership stamp
            httpx.put(f"{fake.address}/v1/jobs", json={"Job": desired.job},
                      timeout=10).raise_for_status()  # fmt: skip
        before = {j: fake.read_job(j)["JobModifyIndex"] for j in ("api", "web")}  # type: ignore[index]
        daemon = start_daemon(repo.root, fake.address)
        daemon.wait_ready()
        daemon.wait_metric(
            "nomad_reconciler_canonical_mismatch_total", lambda v: v == 2, field="FutureJobField"
        )
        for job_id in ("api", "web"):
            daemon.wait_metric(
                "nomad_reconciler_job_sync_state", lambda v: v == 1,
                nomad_namespace="default", nomad_job=job_id, state="in_sync",
            )  # fmt: skip
        after = {j: fake.read_job(j)["JobModifyIndex"] for j in ("api", "web")}  # type: ignore[index]
        assert after == before, "adoption must not write"
        assert not daemon.logs("registered")
        daemon.stop()


@pytest.mark.parametrize("version", FAKE_VERSIONS)
def test_a_job_nomad_never_converges_is_registered_once_then_held(
    version: str, repo, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    repo.write("churn.nomad", job_hcl("churn"))
    repo.write("calm.nomad", job_hcl("calm"))
    repo.commit("two jobs")
    # Nomad alters every submission of churn (as a mutating admission step would).
    with FakeNomad(version=version, admission_nonce={("default", "churn")}) as fake:
        daemon = start_daemon(repo.root, fake.address, "--resync-interval", "1s")
        daemon.wait_ready()
        daemon.wait_metric(
            "nomad_reconciler_job_held", lambda v: v == 1,
            nomad_namespace="default", nomad_job="churn", reason="not_converging",
        )  # fmt: skip
        held = daemon.wait_log("held", nomad_job="churn")
        assert "Nomad still reports changes in Meta[admission-nonce]" in held["reason"]
        # Several full passes later, still the one create: never re-sent in a loop.
        name = "nomad_reconciler_reconcile_pass_duration_seconds_count"
        passes = daemon.metrics().get(name) or 0
        daemon.wait_metric(name, lambda v: (v or 0) >= passes + 3)
        churn = [p for m, p, *_ in fake.request_log if m == "PUT" and p == "/v1/jobs"]
        assert fake.read_job("churn")["Version"] == 0  # type: ignore[index]
        assert len(churn) == 2  # the two creates, nothing more
        daemon.stop()
