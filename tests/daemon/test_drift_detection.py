"""Drift-detection latency counts only out-of-band changes of jobs the daemon saw in sync."""

from __future__ import annotations

import copy
import time

from reconciler.config.settings import load_settings
from reconciler.core.policy import daemon_policy as sync_policy
from reconciler.daemon.loop import Daemon
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.sync.engine import Reconciler
from tests.support.jobs import make_job, snapshot
from tests.support.memory_nomad import MemoryNomad

DETECTED = "nomad_reconciler_drift_detection_seconds_count"
KEY = ("default", "web")


async def test_creating_a_missing_job_is_not_a_drift_detection(tmp_path) -> None:
    nomad = MemoryNomad()
    settings = load_settings({"jobs_dir": str(tmp_path)}, {})
    metrics = ReconcilerMetrics(process_metrics=False)
    daemon = Daemon(settings, env={}, metrics=metrics)
    daemon.worker.engine = Reconciler(nomad, sync_policy(settings), annotate=False)
    snap = snapshot(make_job("web"))
    daemon.checkout.adopt(snap)
    try:
        # Start-up: a Nomad event about the job (e.g. one replayed from before the
        # daemon started) arrives while the job is missing; the daemon creates it.
        daemon.memory.get_or_create(KEY).drift_at = time.time() - 1.0
        await daemon.worker.sync(snap, {KEY}, drift_keys={KEY})
        assert nomad.jobs[KEY]["Version"] == 0  # created
        assert not metrics.registry.get_sample_value(DETECTED)

        # Then someone changes it behind the daemon's back: that is a detection.
        edited = copy.deepcopy(nomad.jobs[KEY])
        edited["TaskGroups"][0]["Count"] = 5
        nomad.put(edited)
        daemon.memory.get_or_create(KEY).drift_at = time.time() - 1.0
        await daemon.worker.sync(snap, {KEY}, drift_keys={KEY})
        assert nomad.jobs[KEY]["TaskGroups"][0]["Count"] == 1  # healed
        assert metrics.registry.get_sample_value(DETECTED) == 1
    finally:
        daemon.memory.cancel_timers()  # rollout re-checks the test does not run
