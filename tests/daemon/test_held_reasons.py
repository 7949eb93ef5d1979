"""The daemon reports one reason per hold: the engine's hold and the daemon's own agree."""

from __future__ import annotations

from reconciler.config.settings import load_settings
from reconciler.core.policy import daemon_policy as sync_policy
from reconciler.daemon.loop import Daemon
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.sync.engine import Reconciler
from tests.support.jobs import make_job, snapshot
from tests.support.memory_nomad import MemoryNomad

HELD = "nomad_reconciler_job_held"


def held_reasons(metrics: ReconcilerMetrics, job_id: str) -> set[str]:
    return {
        s.labels["reason"]
        for family in metrics.registry.collect() if family.name == HELD
        for s in family.samples if s.labels.get("nomad_job") == job_id and s.value == 1
    }  # fmt: skip


async def test_a_failed_rollout_found_in_history_is_held_as_failed_rollout(tmp_path) -> None:
    """A restarted daemon: the engine finds the failed spec in Nomad's history and holds it.

    That hold must carry the same reason as the daemon's own hold of a rollout it
    saw fail (``failed_rollout``), on the full pass and on a one-job pass alike.
    """
    nomad = MemoryNomad()
    good, bad = make_job("web"), make_job("web", count=2, Priority=60)
    first = Reconciler(nomad, sync_policy(load_settings({"jobs_dir": str(tmp_path)}, {})))
    await first.reconcile(snapshot(good))
    await first.reconcile(snapshot(bad))
    nomad.fail_and_revert("web")  # Nomad's auto-revert
    nomad.calls.clear()

    settings = load_settings({"jobs_dir": str(tmp_path)}, {})
    metrics = ReconcilerMetrics(process_metrics=False)
    daemon = Daemon(settings, env={}, metrics=metrics)
    daemon.worker.engine = Reconciler(nomad, sync_policy(settings), annotate=False)  # a fresh process
    snap = snapshot(bad)
    daemon.checkout.adopt(snap)

    await daemon.worker.full_pass(snap)
    assert held_reasons(metrics, "web") == {"failed_rollout"}
    await daemon.worker.sync(snap, {("default", "web")}, drift_keys=set())
    assert held_reasons(metrics, "web") == {"failed_rollout"}
    assert not nomad.writes()  # held: never resubmitted
