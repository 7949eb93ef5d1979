"""The lock between full passes and per-job batches.

A full pass (every job, one cluster read) runs alone; per-job batches run
together.  Writer-preferring, so a waiting full pass is not starved by a
stream of small batches.  In-process only; it guards no Nomad state, just
keeps two workers from handling the same job at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class PassLock:
    """Full passes run alone; per-job batches run together (a writer-preferring RW lock)."""

    def __init__(self) -> None:
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._cond = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._cond:
            await self._cond.wait_for(lambda: not self._writer and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            async with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._cond:
            self._writers_waiting += 1
            await self._cond.wait_for(lambda: not self._writer and self._readers == 0)
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            async with self._cond:
                self._writer = False
                self._cond.notify_all()
