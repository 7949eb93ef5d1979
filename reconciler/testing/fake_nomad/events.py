"""The event broker behind ``/v1/event/stream``.

Responsible for buffering event frames (like Nomad's ring of
``event_buffer_size`` frames), matching subscriptions by topic, filter key
and namespace, and the ``index`` resume rule (start at the frame with that
index or the closest one before it; index 0: the oldest frame buffered).  It never touches job state: the store
publishes frames here while holding its own lock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]

BUFFER_SIZE = 100


@dataclass(frozen=True)
class Frame:
    index: int
    events: tuple[Event, ...]


@dataclass
class Subscription:
    """Topics as ``{topic: {keys}}`` (``*`` wildcards), namespaces (``*`` = all)."""

    topics: dict[str, set[str]]
    namespace: str
    start_index: int
    closed: bool = False
    _pos: int = field(default=-1)  # sequence number of the next frame to deliver

    def matches(self, event: Event) -> bool:
        ns = event.get("Namespace") or ""
        if self.namespace != "*" and ns and ns != self.namespace:
            return False
        keys = self.topics.get(event["Topic"], set()) | self.topics.get("*", set())
        if not keys:
            return False
        if "*" in keys:
            return True
        candidates = {event.get("Key")} | set(event.get("FilterKeys") or ())
        return bool(keys & candidates)


class EventBroker:
    """Thread-safe ring of frames; subscribers block on ``next_frames`` with a timeout."""

    def __init__(self, size: int = BUFFER_SIZE) -> None:
        self._frames: deque[tuple[int, Frame]] = deque(maxlen=size)
        self._seq = 0
        self._cond = threading.Condition()
        self._stalled = False

    def publish(self, index: int, events: list[Event]) -> None:
        if not events:
            return
        # Every event of a frame carries the frame's (Raft) index.
        stamped = tuple({**event, "Index": index} for event in events)
        with self._cond:
            self._frames.append((self._seq, Frame(index, stamped)))
            self._seq += 1
            self._cond.notify_all()

    def set_stalled(self, stalled: bool) -> None:
        """While stalled, subscribers receive nothing (not even heartbeats): a hung stream."""
        with self._cond:
            self._stalled = stalled
            self._cond.notify_all()

    @property
    def stalled(self) -> bool:
        return self._stalled

    def subscribe(self, sub: Subscription) -> Subscription:
        with self._cond:
            frames = list(self._frames)
            if not frames:
                sub._pos = self._seq
                return sub
            # Nomad starts at the frame with Index == start, or the closest one before it.
            start = frames[0][0]
            for seq, frame in frames:
                if frame.index <= sub.start_index:
                    start = seq
                else:
                    break
            # Index 0 starts at the oldest frame still buffered, as Nomad's broker does
            # (``eventBuf.Head()`` in nomad/stream/event_broker.go, v1.0.18): a new
            # subscriber without an index is sent up to a buffer's worth of history.
            sub._pos = start
            return sub

    def next_frames(self, sub: Subscription, timeout: float) -> list[Frame]:
        """Frames for ``sub`` published since the last call; waits up to ``timeout`` for one."""
        with self._cond:
            self._cond.wait_for(lambda: sub.closed or (not self._stalled and self._seq > sub._pos), timeout)
            if sub.closed or self._stalled:
                return []
            out = []
            oldest = self._frames[0][0] if self._frames else self._seq
            sub._pos = max(sub._pos, oldest)
            for seq, frame in self._frames:
                if seq < sub._pos:
                    continue
                events = tuple(e for e in frame.events if sub.matches(e))
                if events:
                    out.append(Frame(frame.index, events))
            sub._pos = self._seq
            return out

    def close(self, sub: Subscription) -> None:
        with self._cond:
            sub.closed = True
            self._cond.notify_all()
