"""Event stream framing and the reconnecting follower, at the ``open_stream`` seam."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path

import pytest

from reconciler.errors import NomadError, NomadPermissionDeniedError, NomadUnavailableError
from reconciler.nomad.events import (
    Event,
    OversizedLine,
    StreamSettings,
    decode_frame,
    follow_events,
    split_lines,
    topic_params,
)

NDJSON = Path(__file__).parents[1] / "golden" / "api" / "07-event-stream.ndjson"
FAST = StreamSettings(
    idle_timeout=1.0, max_frame_bytes=1 << 20, reconnect_initial=0.0, reconnect_max=0.0
)
SMALL_FRAMES = dataclasses.replace(FAST, max_frame_bytes=4096)


def frame(index: int, *keys: str) -> bytes:
    events = [
        {
            "Topic": "Job",
            "Type": "JobRegistered",
            "Key": k,
            "Namespace": "default",
            "Index": index,
            "Payload": {},
        }
        for k in keys
    ]
    return json.dumps({"Index": index, "Events": events}).encode() + b"\n"


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_recorded_stream_decodes() -> None:
    frames = [decode_frame(line) for line in NDJSON.read_bytes().splitlines() if line.strip()]
    heartbeats = [f for f in frames if f is None]
    real = [f for f in frames if f is not None]
    assert heartbeats, "the recording starts with a {} heartbeat"
    assert real
    assert [f.index for f in real] == sorted(f.index for f in real)
    topics = {e.topic for f in real for e in f.events}
    assert {"Job", "Deployment", "Evaluation", "Allocation"} <= topics
    for f in real:
        assert all(e.index == f.index for e in f.events)


def test_topic_params() -> None:
    assert topic_params({"Job": ["*"], "Deployment": ["web", "api"]}) == [
        ("topic", "Job:*"),
        ("topic", "Deployment:web"),
        ("topic", "Deployment:api"),
    ]
    with pytest.raises(ValueError, match="cannot contain ':'"):
        topic_params({"Job": ["a:b"]})
    with pytest.raises(ValueError, match="at least one topic"):
        topic_params({})


@pytest.mark.parametrize("size", [1, 7, 4096])
async def test_split_lines_any_chunking(size: int) -> None:
    data = b"{}\n" + frame(5, "a") + frame(6, "b") + b"\n" + frame(7, "c").rstrip(b"\n")
    lines = [line async for line in split_lines(chunks_of(data, size), max_line=1000)]
    assert lines == [b"{}", frame(5, "a").rstrip(), frame(6, "b").rstrip(), frame(7, "c").rstrip()]


async def test_split_lines_discards_oversized_lines() -> None:
    big = frame(9, "x" * 5000)
    data = frame(8, "a") + big + frame(10, "b")
    lines = [line async for line in split_lines(chunks_of(data, 100), max_line=1000)]
    assert lines[0] == frame(8, "a").rstrip()
    assert isinstance(lines[1], OversizedLine)
    assert lines[1].head.startswith(b'{"Index": 9')
    assert lines[2] == frame(10, "b").rstrip()


class ScriptedNomad:
    """Serves one scripted body per connection; records the start index of each."""

    def __init__(self, *bodies: bytes | Exception) -> None:
        self.bodies = list(bodies)
        self.starts: list[int] = []

    @asynccontextmanager
    async def open(self, start: int) -> AsyncIterator[AsyncIterator[bytes]]:
        self.starts.append(start)
        if not self.bodies:
            raise NomadPermissionDeniedError("script over", status=403)
        body = self.bodies.pop(0)
        if isinstance(body, Exception):
            raise body
        yield chunks_of(body, 13)


async def collect(
    nomad: ScriptedNomad, *, index: int = 0, settings: StreamSettings = FAST
) -> tuple[list[Event], list[bool]]:
    events: list[Event] = []
    states: list[bool] = []
    with pytest.raises(NomadPermissionDeniedError):
        async with aclosing(
            follow_events(nomad.open, index=index, settings=settings, on_connection=states.append)
        ) as stream:
            async for event in stream:
                events.append(event)
    return events, states


async def test_reconnect_resumes_after_last_index_without_repeats() -> None:
    nomad = ScriptedNomad(
        b"{}\n" + frame(5, "a") + frame(6, "b"),
        NomadUnavailableError("connection refused"),
        # Nomad re-sends the closest frame on resume: 6 must not be delivered twice.
        frame(6, "b") + frame(7, "c") + b"{}\n",
    )
    events, states = await collect(nomad)
    assert [(e.index, e.key) for e in events] == [(5, "a"), (6, "b"), (7, "c")]
    # Resumes *at* the last delivered index: more frames of that index may follow.
    assert nomad.starts == [0, 6, 6, 7]
    assert states == [True, False, True, False]


async def test_frames_below_the_requested_index_are_skipped() -> None:
    nomad = ScriptedNomad(frame(532, "old") + frame(534, "new"))
    events, _ = await collect(nomad, index=533)
    assert [e.key for e in events] == ["new"]
    assert nomad.starts[0] == 533


async def test_oversized_frame_forces_a_reconnect_past_it() -> None:
    nomad = ScriptedNomad(
        frame(5, "a") + frame(6, "x" * 5000) + frame(7, "lost-with-the-drop"), frame(8, "b")
    )
    events, states = await collect(nomad, settings=SMALL_FRAMES)
    assert [e.key for e in events] == ["a", "b"]
    assert nomad.starts[:2] == [0, 7]
    assert states[:3] == [True, False, True]


async def test_garbage_frame_forces_a_reconnect() -> None:
    nomad = ScriptedNomad(
        frame(5, "a") + b"{not json\n" + frame(6, "b"), frame(5, "a") + frame(6, "b")
    )
    events, _ = await collect(nomad)
    assert [e.key for e in events] == ["a", "b"]
    assert nomad.starts[:2] == [0, 5]


async def test_permission_denied_ends_the_stream() -> None:
    nomad = ScriptedNomad()
    events, states = await collect(nomad)
    assert events == []
    assert states == []


async def test_streams_that_close_silently_end_with_an_explanation() -> None:
    # Nomad >= 1.11.2 answers a refused subscription with 200 and an immediate close.
    nomad = ScriptedNomad(*([b""] * 10))
    with pytest.raises(NomadError, match="before sending anything") as info:
        async with aclosing(follow_events(nomad.open, settings=FAST)) as stream:
            async for _ in stream:
                pass
    assert not isinstance(info.value, NomadPermissionDeniedError)
    assert len(nomad.starts) == FAST.max_silent_closes


async def test_a_heartbeat_resets_the_silent_close_count() -> None:
    bodies = [b"", b"", b"", b"", b"{}\n", b"", b"", b"", b"", frame(3, "a")]
    nomad = ScriptedNomad(*bodies)
    events, _ = await collect(nomad)
    assert [e.key for e in events] == ["a"]


async def test_several_frames_with_one_index_survive_a_drop_between_them() -> None:
    # As recorded from Nomad 1.0.18: two frames with Index 534 (Job, then Evaluation+Job).
    lines = [line for line in NDJSON.read_bytes().splitlines() if line.strip()]
    cut = next(i for i, line in enumerate(lines) if b'"Index":534' in line) + 1
    first = b"\n".join(lines[:cut]) + b"\n"
    # Nomad resumes at 534: it re-sends both 534 frames, then the rest.
    rest = b"\n".join(line for line in lines[cut - 1 :]) + b"\n"
    nomad = ScriptedNomad(first, rest)
    events, _ = await collect(nomad, index=533)
    expected = [
        (f.index, e.topic, e.type, e.key)
        for f in (decode_frame(line) for line in lines)
        if f is not None and f.index >= 533
        for e in f.events
    ]
    assert [(e.index, e.topic, e.type, e.key) for e in events] == expected
    assert ("Evaluation", 534) in {(e.topic, e.index) for e in events}
    assert nomad.starts[:2] == [533, 534]


async def test_an_index_going_backwards_restarts_the_cursor_and_reports_a_reset() -> None:
    # The agent restarted without its state: after a drop, it counts from 1 again.
    nomad = ScriptedNomad(
        frame(500, "a") + frame(501, "b"),
        NomadUnavailableError("connection refused"),
        frame(7, "after-restart") + frame(8, "next"),
        NomadUnavailableError("connection refused"),
        frame(8, "next") + frame(9, "more"),  # a resume in the new history: no repeats
    )
    resets: list[tuple[int, int]] = []
    events: list[Event] = []
    with pytest.raises(NomadPermissionDeniedError):
        async with aclosing(
            follow_events(nomad.open, settings=FAST, on_reset=lambda o, n: resets.append((o, n)))
        ) as stream:
            async for event in stream:
                events.append(event)
    assert [e.key for e in events] == ["a", "b", "after-restart", "next", "more"]
    assert resets == [(501, 7)]
    assert nomad.starts[:5] == [0, 501, 501, 8, 8]
