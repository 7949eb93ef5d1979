"""An idle event stream is not mistaken for a dead one: Nomad heartbeats every
30 s (nomad/event_endpoint.go, v1.0.18) and the stream's idle timeout, which
the daemon uses as is, leaves a margin above that."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

from reconciler.config.connection import NomadConfig
from reconciler.nomad.client import NomadClient
from reconciler.nomad.events import Event, StreamSettings
from reconciler.nomad.retry import RetryPolicy
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import sleeper_job

NOMAD_HEARTBEAT_S = 30.0
MARGIN_S = 10.0
WAIT_S = 20.0


def test_the_idle_timeout_outlasts_nomads_heartbeat_with_a_margin() -> None:
    assert FakeNomad().heartbeat_s == NOMAD_HEARTBEAT_S
    assert StreamSettings().idle_timeout >= NOMAD_HEARTBEAT_S + MARGIN_S


async def test_an_idle_stream_kept_alive_by_heartbeats_is_not_reconnected() -> None:
    # Nomad's timings scaled down 100x: heartbeats every 0.3 s, the default idle timeout's ratio.
    scale = 0.01
    heartbeat = NOMAD_HEARTBEAT_S * scale
    settings = StreamSettings(idle_timeout=StreamSettings().idle_timeout * scale, reconnect_initial=0.05, reconnect_max=0.2)
    with FakeNomad(heartbeat_s=heartbeat) as fake:
        states: list[bool] = []
        received: asyncio.Queue[Event] = asyncio.Queue()
        async with NomadClient(NomadConfig(address=fake.address), retry=RetryPolicy.never()) as client:

            async def consume() -> None:
                stream = client.events(topics={"Job": ["*"]}, on_connection=states.append, settings=settings)
                async with aclosing(stream) as events:
                    async for event in events:
                        await received.put(event)

            consumer = asyncio.create_task(consume())
            try:
                # The idle period under test: several heartbeat periods with no event.
                await asyncio.sleep(heartbeat * 8)
                fake.run_job_out_of_band(sleeper_job("after-idle"))
                event = await asyncio.wait_for(received.get(), timeout=WAIT_S)
                seen = list(states)  # before the consumer is cancelled (which disconnects)
            finally:
                consumer.cancel()
                await asyncio.gather(consumer, return_exceptions=True)
    assert event.key == "after-idle"
    assert seen == [True], "one connection for the whole idle period: no false reconnect"
    streams = [entry for entry in fake.request_log if entry[1] == "/v1/event/stream"]
    assert len(streams) == 1
