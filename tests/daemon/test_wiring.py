"""The daemon's small adapters: what a registration tells the daemon, the pass lock, CLI flags → settings."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from reconciler.cli import build_parser
from reconciler.commands.daemon import flags_from_args
from reconciler.config.settings import load_settings
from reconciler.core.policy import SyncPolicy
from reconciler.core.policy import daemon_policy as sync_policy
from reconciler.daemon.loop import nomad_config
from reconciler.daemon.pass_lock import PassLock
from reconciler.sync.engine import Reconciler
from reconciler.sync.outcome import Result
from tests.support.jobs import make_job, snapshot
from tests.support.memory_nomad import MemoryNomad


async def test_a_registration_carries_the_moment_nomad_accepted_it() -> None:
    """The end of the change-to-registered latency is a field of the outcome (``accepted_at``)."""
    nomad = MemoryNomad()
    engine = Reconciler(nomad, SyncPolicy(), annotate=False)
    before = time.monotonic()
    result = await engine.reconcile(snapshot(make_job("web")), only={("default", "web")})
    [outcome] = result.outcomes
    assert outcome.result is Result.CREATED
    assert outcome.accepted_at is not None and before <= outcome.accepted_at <= time.monotonic()
    assert ("list", "web") in nomad.calls  # a pass about one job lists it by prefix


async def test_pass_lock_full_pass_runs_alone() -> None:
    lock = PassLock()
    events: list[str] = []
    release = asyncio.Event()

    async def job_batch(name: str) -> None:
        async with lock.shared():
            events.append(f"{name}+")
            await release.wait()
            events.append(f"{name}-")

    async def full_pass() -> None:
        async with lock.exclusive():
            events.append("full+")
            events.append("full-")

    async def until(predicate: Any) -> None:  # bounded poll of an observable condition
        async with asyncio.timeout(5):
            while not predicate():
                await asyncio.sleep(0.001)

    a = asyncio.create_task(job_batch("a"))
    b = asyncio.create_task(job_batch("b"))
    await until(lambda: events == ["a+", "b+"])
    full = asyncio.create_task(full_pass())
    await until(lambda: lock._writers_waiting == 1)
    late = asyncio.create_task(job_batch("late"))  # waits behind the waiting full pass
    await until(lambda: len(lock._cond._waiters) == 2)  # type: ignore[attr-defined]
    assert events == ["a+", "b+"]
    release.set()
    await asyncio.wait_for(asyncio.gather(a, b, full, late), 5)
    assert events.index("full+") > max(events.index("a-"), events.index("b-"))
    assert events.index("late+") > events.index("full-")


def test_cli_flags_beat_environment_and_map_onto_nomad_config(tmp_path) -> None:
    config = tmp_path / "d.toml"
    config.write_text('resync_interval = "10m"\n[nomad]\nregion = "file-region"\n')
    args = build_parser().parse_args([
        "daemon", "jobs", "--config", str(config), "--address", "http://flag:4646",
        "--no-self-heal", "--promote-after", "90s", "--var", "a=1", "--var", "b=2",
        "--tls-skip-verify",
    ])
    flags = flags_from_args(args)
    env = {"NOMAD_ADDR": "http://env:4646", "NOMAD_NAMESPACE": "team", "NOMAD_TOKEN": "t" * 36}
    settings = load_settings(flags, env)
    assert settings.source.jobs_dir == "jobs"
    assert settings.policy.self_heal is False and settings.policy.promote_after == 90.0
    assert settings.timing.resync_interval == 600.0
    assert settings.source.variables == ("a=1", "b=2")
    config_ = nomad_config(settings)
    assert config_.address == "http://flag:4646"
    assert config_.namespace == "team" and config_.region == "file-region"
    assert config_.tls.skip_verify is True and config_.token == "t" * 36
    policy = sync_policy(settings)
    assert policy.promote is False and policy.wait is False and policy.supersede_active is True
    # The engine holds specs whose own deployment failed, on every pass (no workaround).
    assert policy.retry_failed is False
