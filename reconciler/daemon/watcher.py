"""File-system triggers: watchdog on the jobs directory, signalling the asyncio loop.

Responsible for noticing that something under the jobs directory changed.
It must not parse, load or call Nomad: watchdog handlers run on the observer
thread and only hand raw paths to the loop with ``call_soon_threadsafe``; the
loop filters them (``is_trigger``), debounces them and re-scans.  Because the
re-scan rebuilds the whole picture, a lost or duplicated event cannot cause
drift: events only say *when* to look.

A commit is a trigger too: HEAD and refs/ in the checkout's git directories
are watched (the daemon applies committed state, and committing changes no
file under the jobs directory).

Handled: created/modified/closed-after-write/deleted/moved files and
directories (atomic renames and moves arrive as moves), ``.git/`` and hidden
paths and files matching ``.reconcilerignore`` are not triggers, and a jobs
directory that is a symlink switched atomically (git-sync's ``current ->
rev-XYZ``) is followed: the parent directory is watched for the switch, and
the watch moves to the new target.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

import pathspec
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

log = logging.getLogger(__name__)

IGNORE_FILE = ".reconcilerignore"
JOB_SUFFIXES = (".nomad", ".hcl", ".json")

# Reads by our own loader produce opened/closed-no-write events: never subscribe to
# them, or every scan would trigger the next one.
WATCHED_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]

RawEvent = tuple[str, bool, str]
"""(absolute path, is_directory, kind) as reported by watchdog; kind is watchdog's
``event_type`` for the source path, ``"moved_to"`` for a move's destination and
``"synthetic"`` for an event watchdog made up (the contents of a directory it
started watching), which no close event ever follows."""

#: A file with no write activity for this long is no longer "being written",
#: close event or not: never wait on a close event that may not come.  A file
#: caught half written then fails to load and is held back by the settle gate.
WRITE_STALE_S = 2.0


def track_write(writing: dict[str, float], rel_path: str, kind: str, *, now: float) -> None:
    """Pure bookkeeping of files open for writing (inotify: modified ... closed).

    ``writing`` maps a file to its last write activity.  A modified file is
    being written until its close-after-write event.  "created" alone does not
    count: watchdog also reports every file of a newly created directory as
    created (it lists the directory once its watch exists), and no close event
    follows those; a real writer's first write reports "modified" anyway.  A
    deleted file, or one that arrived by rename, is complete.
    """
    if kind == "modified":
        writing[rel_path] = now
    elif kind != "created":
        writing.pop(rel_path, None)


def fresh_writes(writing: dict[str, float], *, now: float, stale_after: float) -> frozenset[str]:
    """Pure: the files still being written; entries idle ``stale_after`` seconds are dropped."""
    for path in [p for p, at in writing.items() if now - at >= stale_after]:
        del writing[path]
    return frozenset(writing)


def read_ignore_spec(root: str) -> pathspec.GitIgnoreSpec | None:
    """The jobs directory's ``.reconcilerignore`` rules (gitignore syntax), if any."""
    try:
        text = Path(root, IGNORE_FILE).read_text(encoding="utf-8")
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(text.splitlines())


def is_ref_change(rel_path: str) -> bool:
    """Pure: does a change at ``rel_path`` (relative to a git directory) move a commit?

    HEAD, packed-refs and refs/ (not their ``.lock`` files, written before the rename
    that publishes them): a commit, a checkout, a reset or a fetch + merge.
    """
    rel = rel_path.replace(os.sep, "/")
    if rel.endswith(".lock"):
        return False
    return rel in ("HEAD", "packed-refs") or rel.startswith("refs/")


def is_trigger(rel_path: str, *, is_dir: bool, ignore: pathspec.GitIgnoreSpec | None) -> bool:
    """Pure: does a change at ``rel_path`` (relative to the jobs dir) warrant a re-scan?"""
    parts = PurePosixPath(rel_path.replace(os.sep, "/")).parts
    if not parts or parts[0] == "..":
        return False
    if rel_path == IGNORE_FILE:
        return True  # what counts as a job file may have changed
    if any(p.startswith(".") for p in parts):
        return False  # .git/, editor swap files, git-sync's .worktrees
    if ignore is not None and ignore.match_file(rel_path + ("/" if is_dir else "")):
        return False
    if is_dir:
        return True  # a moved or deleted directory can hold jobs
    name = parts[-1]
    if name.endswith("~"):
        return False
    return name.endswith(JOB_SUFFIXES)


class _Forwarder(FileSystemEventHandler):
    """Runs on the observer thread: forwards raw paths to the loop, nothing else."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, deliver: Callable[[list[RawEvent]], None]
    ) -> None:
        self._loop = loop
        self._deliver = deliver

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = "synthetic" if getattr(event, "is_synthetic", False) else event.event_type
        raw: list[RawEvent] = [(os.fsdecode(event.src_path), event.is_directory, kind)]
        if event.dest_path:
            raw.append((os.fsdecode(event.dest_path), event.is_directory, "moved_to"))
        with contextlib.suppress(RuntimeError):  # loop closed during shutdown
            self._loop.call_soon_threadsafe(self._deliver, raw)


class JobsDirWatcher:
    """Watches ``root`` recursively; reports trigger paths relative to it.

    ``on_paths(rel_paths)`` is called on the loop thread with the relevant
    paths of each batch of events; ``on_switch()`` when a symlinked root now
    points somewhere else (a whole new checkout: re-scan everything).
    """

    def __init__(
        self,
        root: str,
        *,
        on_paths: Callable[[set[str]], None],
        on_switch: Callable[[], None],
        loop: asyncio.AbstractEventLoop | None = None,
        observer_factory: Callable[[], BaseObserver] = Observer,
        stale_after: float = WRITE_STALE_S,
        clock: Callable[[], float] = time.monotonic,
        git_dirs: tuple[str, ...] = (),
    ) -> None:
        self.root = os.path.abspath(root)
        # A commit changes no file under the jobs directory (the edit came before it):
        # its git directories are watched for HEAD and ref changes too.
        self._git_dirs = tuple(os.path.realpath(d) for d in git_dirs)
        self._on_paths = on_paths
        self._on_switch = on_switch
        self._loop = loop or asyncio.get_running_loop()
        self._observer = observer_factory()
        self._target = os.path.realpath(self.root)
        self._watch: ObservedWatch | None = None
        self._link_watch: ObservedWatch | None = None
        self._ignore: pathspec.GitIgnoreSpec | None = None
        # Only inotify reports close-after-write; elsewhere a file would look open forever.
        self.tracks_writes = "inotify" in type(self._observer).__name__.lower()
        self._writing: dict[str, float] = {}
        self._stale_after = stale_after
        self._clock = clock

    @property
    def writing(self) -> frozenset[str]:
        """Job files written to in the last ``stale_after`` seconds and not yet closed (inotify only)."""
        return fresh_writes(self._writing, now=self._clock(), stale_after=self._stale_after)

    def forget_writes(self, paths: Iterable[str]) -> None:
        """Stop waiting for ``paths`` (the caller gave up on their close events)."""
        for path in paths:
            self._writing.pop(path, None)

    @property
    def target(self) -> str:
        """The directory currently watched (the symlink's target for a linked root)."""
        return self._target

    def start(self) -> None:
        handler = _Forwarder(self._loop, self._deliver)
        self._ignore = read_ignore_spec(self._target)
        self._watch = self._observer.schedule(
            handler, self._target, recursive=True, event_filter=WATCHED_EVENTS
        )
        for git_dir in self._git_dirs:
            if os.path.isdir(git_dir):
                self._observer.schedule(handler, git_dir, recursive=True,
                                        event_filter=WATCHED_EVENTS)  # fmt: skip
        if os.path.islink(self.root):
            # A git-sync switch replaces the link itself: only the parent sees that.
            self._link_watch = self._observer.schedule(
                handler, os.path.dirname(self.root), recursive=False,
                event_filter=WATCHED_EVENTS,
            )
        self._observer.daemon = True
        self._observer.start()

    def stop(self, *, timeout: float = 5.0) -> None:
        self._observer.stop()
        self._observer.join(timeout)

    def _deliver(self, raw: list[RawEvent]) -> None:
        """Loop thread: filter raw events, follow a root switch, forward the rest."""
        switched = False
        relevant: set[str] = set()
        for path, is_dir, kind in raw:
            if path == self.root:
                switched = self._follow_switch() or switched
                continue
            git_dir = next((d for d in self._git_dirs if path.startswith(d + os.sep)), None)
            if git_dir is not None:
                if not is_dir and is_ref_change(os.path.relpath(path, git_dir)):
                    relevant.add(os.path.relpath(path, self._target))
                continue
            if not path.startswith(self._target + os.sep):
                continue  # a sibling of the link, or the previous checkout going away
            rel = os.path.relpath(path, self._target)
            if rel == IGNORE_FILE:
                self._ignore = read_ignore_spec(self._target)
            if is_trigger(rel, is_dir=is_dir, ignore=self._ignore):
                relevant.add(rel)
                if self.tracks_writes and not is_dir:
                    track_write(self._writing, rel, kind, now=self._clock())
        if switched:
            self._on_switch()
        elif relevant:
            self._on_paths(relevant)

    def _follow_switch(self) -> bool:
        """Re-point the recursive watch when the root symlink changed target."""
        target = os.path.realpath(self.root)
        if target == self._target or not os.path.isdir(target):
            return False
        log.info("jobs directory switched", extra={"fields": {"from": self._target, "to": target}})
        if self._watch is not None:
            with contextlib.suppress(KeyError, OSError):  # the old target may be gone already
                self._observer.unschedule(self._watch)
        self._target = target
        self._writing.clear()
        self._ignore = read_ignore_spec(target)
        self._watch = self._observer.schedule(
            _Forwarder(self._loop, self._deliver), target, recursive=True,
            event_filter=WATCHED_EVENTS,
        )
        return True
