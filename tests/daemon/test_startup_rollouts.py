"""A deployment event about a rollout the daemon did not start is not taken as the current state.

After a restart, events may be old (Nomad replays its buffer to a subscriber
that gives no index, and a reconnect resumes from the last index seen): the
daemon reports what Nomad says now.
"""

from __future__ import annotations

import logging

import pytest

from reconciler.config.connection import NomadConfig
from reconciler.config.settings import load_settings
from reconciler.daemon.loop import Daemon
from reconciler.daemon.nomad_watch import DeploymentChange
from reconciler.nomad.client import NomadClient
from reconciler.nomad.objects import parse_deployment
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import minimal_job


async def test_an_old_deployment_event_is_not_reported_as_the_current_state(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeNomad() as fake:
        fake.run_job_out_of_band(minimal_job("web"))
        fake.wait_for(lambda: (fake.latest_deployment("web") or {}).get("Status") == "successful")
        current = fake.latest_deployment("web") or {}
        settings = load_settings({"jobs_dir": str(tmp_path)}, {})
        daemon = Daemon(settings, env={}, metrics=ReconcilerMetrics(process_metrics=False))
        async with NomadClient(NomadConfig(address=fake.address)) as client:
            daemon.rollouts.client = client
            # The same deployment as an event sent while it still awaited promotion.
            stale = {
                **current,
                "Status": "running",
                "StatusDescription": "Deployment is running but requires manual promotion",
            }
            daemon.memory.get_or_create(("default", "web")).deployment_event = parse_deployment(stale)
            daemon.due.queue = _NoQueue()
            with caplog.at_level(logging.INFO, logger="reconciler.daemon"):
                daemon.events.on_deployment(DeploymentChange(("default", "web"), parse_deployment(stale)))
                await daemon.rollouts.check(("default", "web"))
    said = [(r.getMessage(), getattr(r, "fields", {}).get("description")) for r in caplog.records]
    assert said == [("rollout successful", "Deployment completed successfully")]


class _NoQueue:
    def submit(self, key: object, *, urgent: bool = False) -> None:
        pass
