"""Nomad's event stream (``GET /v1/event/stream``): frames, and a resilient follower.

Decoding is pure (``decode_frame``, ``split_lines``).  ``follow_events`` keeps a
subscription alive across drops: it reconnects at the last delivered index
with backoff, de-duplicates frames by index and content (Nomad re-sends from
the resume index, and can write several frames with one index), and reports connection state through a callback.  Memory is
bounded: the body is read in chunks and a frame larger than ``max_frame_bytes``
is discarded (and counted as a drop, so the caller resyncs).  A stream that
sends nothing, not even the ``{}`` heartbeat Nomad writes every 30 s, for
``idle_timeout`` seconds is treated as dropped (the HTTP read timeout).

Callers must treat every reconnect (``on_connection(True)`` after the first)
as "events may have been missed": Nomad buffers only ~100 frames.

Nomad never sends a frame below the index a subscription resumes at (it
starts at that frame, or the closest one before it, which was delivered).
So a frame below the cursor means the server's history is not the one
followed so far: the agent restarted without its state (a dev agent, a lost
data dir) and counts from 1 again.  The cursor then follows the new history
(dropping those frames would leave the caller blind until the new index
passes the old one) and ``on_reset(old, new)`` tells the caller to resync:
everything it knew from Nomad, indexes included, is stale.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass
from typing import Any

from reconciler.deployment import Deployment
from reconciler.errors import NomadError, NomadUnavailableError
from reconciler.nomad.hooks import ConnectionHook, ResetHook, call_hook_safely
from reconciler.nomad.objects import (
    Evaluation,
    EventJob,
    parse_deployment,
    parse_evaluation,
    parse_event_job,
)

log = logging.getLogger(__name__)

_INDEX_PREFIX = re.compile(rb'^\s*\{\s*"Index"\s*:\s*(\d+)')


@dataclass(frozen=True)
class Event:
    """One event of a frame; ``index`` is the frame's Raft index."""

    topic: str
    type: str
    key: str
    namespace: str
    index: int
    payload: Mapping[str, Any]
    filter_keys: tuple[str, ...] = ()
    # Parsed with the frame (``objects.py``), each on its own topic: a Deployment
    # event's deployment, a Job event's job, an Evaluation event's evaluation.
    deployment: Deployment | None = None
    job: EventJob | None = None
    evaluation: Evaluation | None = None


@dataclass(frozen=True)
class EventFrame:
    index: int
    events: tuple[Event, ...]


@dataclass(frozen=True)
class StreamSettings:
    """Tuning of ``follow_events``; tests shrink the times."""

    idle_timeout: float = 45.0
    max_frame_bytes: int = 32 * 1024 * 1024
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0
    # Nomad writes a heartbeat as soon as a subscription starts; a stream that
    # closes before sending anything is how Nomad >= 1.11.2 reports an error
    # (e.g. ACL) after a 200.  After this many in a row, give up with NomadError.
    max_silent_closes: int = 5


def topic_params(topics: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """``{"Job": ["*"], "Deployment": ["web"]}`` → ``[("topic", "Job:*"), ("topic", "Deployment:web")]``."""
    params: list[tuple[str, str]] = []
    for topic, keys in topics.items():
        if not topic or ":" in topic:
            raise ValueError(f"invalid event topic {topic!r}")
        for key in keys or ("*",):
            if ":" in key:
                # Nomad rejects a second ':' in a topic query (command/agent/event_endpoint.go
                # parseEventTopics, v1.0.18).
                raise ValueError(f"event filter key {key!r} cannot contain ':'")
            params.append(("topic", f"{topic}:{key}"))
    if not params:
        raise ValueError("subscribe to at least one topic (no topic needs a management token)")
    return params


def decode_frame(line: bytes) -> EventFrame | None:
    """One NDJSON line → a frame, or ``None`` for a ``{}`` heartbeat.  ``ValueError`` on garbage."""
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("event frame is not a JSON object")
    if not data:
        return None
    if "Error" in data and "Index" not in data:
        raise ValueError(f"event stream error: {data['Error']}")
    index = int(data["Index"])
    events = tuple(decode_event(raw, index) for raw in data.get("Events") or ())
    return EventFrame(index=index, events=events)


def decode_event(raw: Mapping[str, Any], index: int) -> Event:
    """One of a frame's ``Events`` (``api/event_stream.go`` ``Event``, v1.0.18 to v2.0.0).

    The payload of its topic is parsed here, once: ``Payload.Deployment``,
    ``Payload.Job``, ``Payload.Evaluation`` (a missing or non-object body: ``None``).
    """
    topic = str(raw.get("Topic", ""))
    payload = raw.get("Payload") or {}
    found = payload.get(topic) if topic in ("Deployment", "Job", "Evaluation") else None
    body: Mapping[str, Any] | None = found if isinstance(found, Mapping) else None
    return Event(
        topic=topic,
        type=str(raw.get("Type", "")),
        key=str(raw.get("Key", "")),
        namespace=str(raw.get("Namespace") or ""),
        index=int(raw.get("Index", index)),
        payload=payload,
        filter_keys=tuple(raw.get("FilterKeys") or ()),
        deployment=parse_deployment(body) if body is not None and topic == "Deployment" else None,
        job=parse_event_job(body) if body is not None and topic == "Job" else None,
        evaluation=parse_evaluation(body) if body is not None and topic == "Evaluation" else None,
    )


@dataclass(frozen=True)
class OversizedLine:
    """A line longer than the limit, discarded; ``head`` is its first bytes."""

    head: bytes


async def split_lines(
    chunks: AsyncIterator[bytes], *, max_line: int
) -> AsyncGenerator[bytes | OversizedLine]:
    """Re-chunk a byte stream into lines, never holding more than ``max_line`` bytes."""
    buffer = bytearray()
    skipping: bytes | None = None  # head of an oversized line being discarded
    async for chunk in chunks:
        start = 0
        while start < len(chunk):
            newline = chunk.find(b"\n", start)
            end = len(chunk) if newline < 0 else newline
            if skipping is None:
                buffer += chunk[start:end]
                if len(buffer) > max_line:
                    skipping = bytes(buffer[:64])
                    buffer.clear()
            if newline < 0:
                break
            if skipping is not None:
                yield OversizedLine(skipping)
                skipping = None
            elif buffer.strip():
                yield bytes(buffer)
            buffer.clear()
            start = newline + 1
    if skipping is not None:
        yield OversizedLine(skipping)
    elif buffer.strip():
        yield bytes(buffer)


_BROKEN = object()


def _index_prefix(line: bytes | OversizedLine) -> int:
    """The frame index from the start of a line Nomad wrote (``{"Index":N,...``), or -1."""
    head = line.head if isinstance(line, OversizedLine) else line[:64]
    match = _INDEX_PREFIX.match(head)
    return int(match.group(1)) if match else -1


def _decode_or_none(line: bytes | OversizedLine, settings: StreamSettings) -> object:
    """A frame, ``None`` (heartbeat) or ``_BROKEN`` (logged)."""
    if isinstance(line, OversizedLine):
        log.error(
            "Nomad event frame larger than %d bytes discarded (index %d)",
            settings.max_frame_bytes,
            _index_prefix(line),
        )
        return _BROKEN
    try:
        return decode_frame(line)
    except (ValueError, KeyError, TypeError) as exc:
        log.error("undecodable Nomad event frame (index %d): %s", _index_prefix(line), exc)
        return _BROKEN


class _Cursor:
    """Which frames were delivered, for exactly-once delivery across reconnects.

    Nomad may write several frames with the same index (the recording has two
    at 534: Job, then Evaluation+Job), and resuming at ``index=N`` re-sends
    every frame from N on.  So the stream resumes *at* the highest index
    delivered and skips the frames of that index already seen (by content).
    """

    def __init__(self, index: int) -> None:
        self.index = index - 1
        # Fingerprints of frames delivered at self.index; None: that index is not wanted.
        self.seen: set[bytes] | None = None

    @property
    def resume_from(self) -> int:
        return max(self.index if self.seen is not None else self.index + 1, 0)

    def admit(self, frame: EventFrame, raw: bytes) -> bool:
        if frame.index < self.index:
            return False
        fingerprint = hashlib.blake2b(raw, digest_size=16).digest()
        if frame.index == self.index:
            if self.seen is None or fingerprint in self.seen:
                return False
            self.seen.add(fingerprint)
            return True
        self.index, self.seen = frame.index, {fingerprint}
        return True

    def rewound(self, frame: EventFrame) -> bool:
        """Is ``frame`` below anything Nomad may re-send on resume (its history was reset)?"""
        return frame.index < self.index

    def restart_at(self, index: int) -> None:
        """Follow a new history from ``index`` on (after a reset)."""
        self.index, self.seen = index - 1, None

    def skip_past(self, index: int) -> None:
        """Give up on a frame that cannot be read: resume after its index."""
        if index >= self.index:
            self.index, self.seen = index, None


OpenStream = Callable[[int], AbstractAsyncContextManager[AsyncIterator[bytes]]]
"""Opens the stream at a start index; yields body chunks; raises ``NomadError``s."""


async def follow_events(
    open_stream: OpenStream,
    *,
    index: int = 0,
    settings: StreamSettings | None = None,
    on_connection: ConnectionHook | None = None,
    on_reset: ResetHook | None = None,
) -> AsyncGenerator[Event]:
    """Events at or after ``index``, each delivered once, across reconnects.

    A frame below the cursor (Nomad lost its state) restarts the cursor there
    and calls ``on_reset(old_index, new_index)`` before that frame's events.

    Retryable failures (``NomadUnavailableError``, a dropped or stalled stream,
    an oversized frame) reconnect with jittered exponential backoff, forever;
    other ``NomadError``s (403, 400) end the iteration by raising.
    """
    settings = settings or StreamSettings()
    cursor = _Cursor(index)
    delay = settings.reconnect_initial
    connected = False
    silent_closes = 0

    def set_connected(state: bool) -> None:
        nonlocal connected
        if state != connected:
            connected = state
            call_hook_safely(on_connection, state)

    try:
        while True:
            opened_at: float | None = None
            try:
                async with (
                    open_stream(cursor.resume_from) as chunks,
                    aclosing(split_lines(chunks, max_line=settings.max_frame_bytes)) as lines,
                ):
                    set_connected(True)
                    opened_at = asyncio.get_running_loop().time()
                    heard = False
                    async for line in lines:
                        heard = True
                        silent_closes = 0
                        frame = _decode_or_none(line, settings)
                        if frame is _BROKEN:
                            # Skip what cannot be read and reconnect: the reconnect tells
                            # the consumer to resync, so nothing is lost for good.
                            cursor.skip_past(_index_prefix(line))
                            break
                        if not isinstance(frame, EventFrame):
                            continue  # heartbeat
                        assert isinstance(line, bytes)
                        if cursor.rewound(frame):
                            old = cursor.index
                            log.warning(
                                "Nomad's event index went backwards (%d after %d): its state "
                                "was reset; following the new history",
                                frame.index,
                                old,
                            )
                            cursor.restart_at(frame.index)
                            call_hook_safely(on_reset, old, frame.index)
                        if not cursor.admit(frame, line):
                            continue  # re-sent on resume, or older than asked for
                        delay = settings.reconnect_initial
                        for event in frame.events:
                            yield event
                    else:
                        if not heard:
                            silent_closes += 1
                            if silent_closes >= settings.max_silent_closes:
                                raise NomadError(
                                    f"Nomad closed the event stream {silent_closes} times in a row "
                                    "before sending anything; on Nomad >= 1.11.2 that is how a "
                                    "refused subscription looks (does the token have read-job "
                                    "in every namespace asked for?)",
                                    endpoint="/v1/event/stream",
                                )
                        log.warning(
                            "Nomad closed the event stream; reconnecting at index %d",
                            cursor.resume_from,
                        )
            except NomadUnavailableError as exc:
                log.warning(
                    "Nomad event stream dropped: %s; reconnecting at index %d",
                    exc,
                    cursor.resume_from,
                )
            set_connected(False)
            if opened_at is not None and (
                asyncio.get_running_loop().time() - opened_at > settings.reconnect_max
            ):
                delay = settings.reconnect_initial  # it was a long, healthy connection
            sleep = min(settings.reconnect_max, delay)
            await asyncio.sleep(sleep * (0.5 + random.random() / 2) if sleep else 0)
            delay = min(settings.reconnect_max, max(delay * 2, settings.reconnect_initial))
    finally:
        set_connected(False)
