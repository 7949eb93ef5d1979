"""Parsing many job files at once: a process pool for a cold load, serial otherwise.

Responsibility: ``parse_all`` keeps the order of its input and falls back to
parsing serially where no pool can run.  Each pool process holds its own
parser; the calling process takes chunks too.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import multiprocessing
import os
import pickle
from collections.abc import Sequence

from reconciler.jobspec.file_parser import (
    FailedJob,
    JobParser,
    Outcome,
    ParseWork,
    parse_job_source,
    parse_one,
)

#: Below this many files to parse, a process pool costs more than it saves.
POOL_MIN_FILES = 64
#: Files per pool task: big enough to amortize pickling, small enough to balance.
POOL_CHUNK = 16
#: Each process holds its own parser (~70 MB): a big machine gets no more than this.
POOL_MAX_PROCESSES = 4


def parse_all(work: Sequence[ParseWork], *, parser: JobParser, workers: int | None) -> list[Outcome]:
    count = workers if workers is not None else default_workers()
    if parser is parse_job_source and count > 1 and len(work) >= POOL_MIN_FILES:
        # Largest first: a big file starts at once instead of finishing last, alone.
        order = sorted(range(len(work)), key=lambda i: len(work[i].text), reverse=True)
        try:
            parsed = _parse_in_pool([work[i] for i in order], processes=count)
            results: list[Outcome] = [FailedJob("not parsed")] * len(work)
            for position, index in enumerate(order):
                results[index] = parsed[position]
            return results
        except (concurrent.futures.process.BrokenProcessPool, OSError, pickle.PicklingError):
            pass  # no usable pool here (no __main__ file, fd or process limits): parse serially
    return [parse_one(w, parser=parser) for w in work]


def default_workers() -> int:
    """CPUs this process may use (affinity-aware), at most ``POOL_MAX_PROCESSES``."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, min(usable, POOL_MAX_PROCESSES))


def _parse_in_pool(work: Sequence[ParseWork], *, processes: int) -> list[Outcome]:
    """Parse with ``processes - 1`` pool workers plus this process.

    This process takes chunks too: one process fewer to start and to hold in
    memory, and its converter is warm for the single-file re-parses that follow.
    Chunks are handed out as workers free up, so a slow worker start-up does
    not leave this process idle.
    """
    # forkserver/spawn, never fork: the daemon has threads (watcher, event loop).
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    chunks = [work[i : i + POOL_CHUNK] for i in range(0, len(work), POOL_CHUNK)]
    results: list[list[Outcome]] = [[] for _ in chunks]
    in_flight: dict[concurrent.futures.Future[list[Outcome]], int] = {}
    next_chunk = 0
    with concurrent.futures.ProcessPoolExecutor(processes - 1, mp_context=context) as pool:
        while next_chunk < len(chunks):
            while next_chunk < len(chunks) and len(in_flight) < 2 * (processes - 1):
                in_flight[pool.submit(_parse_chunk, chunks[next_chunk])] = next_chunk
                next_chunk += 1
            for future in [f for f in in_flight if f.done()]:
                results[in_flight.pop(future)] = future.result()
            if next_chunk < len(chunks):
                results[next_chunk] = _parse_chunk(chunks[next_chunk])
                next_chunk += 1
        for future, index in in_flight.items():
            results[index] = future.result()
    return [outcome for chunk in results for outcome in chunk]


def _parse_chunk(work: Sequence[ParseWork]) -> list[Outcome]:
    return [parse_one(w, parser=parse_job_source) for w in work]
