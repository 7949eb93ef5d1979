"""The jobs-directory watcher on the real filesystem (bounded waits, no sleeps)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pathspec
import pytest

from reconciler.daemon.watcher import JobsDirWatcher, is_trigger

IGNORE = pathspec.GitIgnoreSpec.from_lines(["drafts/", "*.tmp.nomad"])


@pytest.mark.parametrize(
    ("rel", "is_dir", "expected"),
    [
        ("web.nomad", False, True),
        ("platform/db.nomad.hcl", False, True),
        ("api.json", False, True),
        ("platform", True, True),
        (".git/index", False, False),
        (".git/refs/heads/main", False, False),
        (".worktrees/abc/web.nomad", False, False),
        ("web.nomad.swp", False, False),
        (".web.nomad.swp", False, False),
        ("web.nomad~", False, False),
        ("README.md", False, False),
        ("drafts/new.nomad", False, False),
        ("drafts", True, False),
        ("x.tmp.nomad", False, False),
        (".reconcilerignore", False, True),
        ("../elsewhere.nomad", False, False),
    ],
)
def test_is_trigger(rel: str, is_dir: bool, expected: bool) -> None:
    assert is_trigger(rel, is_dir=is_dir, ignore=IGNORE) is expected


@dataclass
class Recorder:
    batches: asyncio.Queue[set[str]] = field(default_factory=asyncio.Queue)
    switches: asyncio.Queue[None] = field(default_factory=asyncio.Queue)

    async def paths_until(self, wanted: set[str], *, timeout: float = 5.0) -> set[str]:
        """Collect reported paths until ``wanted`` are all seen (bounded)."""
        seen: set[str] = set()
        async with asyncio.timeout(timeout):
            while not wanted <= seen:
                seen |= await self.batches.get()
        return seen

    async def drain_with_marker(self, root: Path, name: str) -> set[str]:
        """Deliver a marker by one atomic rename (one event); return all paths up to it.

        inotify preserves order, so every earlier event is in the returned set.
        """
        tmp = root / f".{name}.tmp"
        tmp.write_text("marker")
        os.replace(tmp, root / name)
        return await self.paths_until({name})


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[Path, Recorder, JobsDirWatcher]]:
    root = tmp_path / "jobs"
    root.mkdir()
    (root / ".reconcilerignore").write_text("drafts/\n")
    rec = Recorder()
    watcher = JobsDirWatcher(
        str(root), on_paths=rec.batches.put_nowait, on_switch=lambda: rec.switches.put_nowait(None)
    )
    watcher.start()
    try:
        yield root, rec, watcher
    finally:
        watcher.stop()


async def test_create_modify_delete_and_atomic_rename(watched) -> None:
    root, rec, _ = watched
    (root / "web.nomad").write_text('job "web" {}')
    assert "web.nomad" in await rec.paths_until({"web.nomad"})
    # Editors and git write a temp file and rename it over the target.
    tmp = root / ".web.nomad.tmp123"
    tmp.write_text('job "web" { type = "batch" }')
    os.replace(tmp, root / "web.nomad")
    seen = await rec.paths_until({"web.nomad"})
    assert not any(p.startswith(".") for p in seen)
    (root / "web.nomad").unlink()
    assert "web.nomad" in await rec.paths_until({"web.nomad"})


async def test_moves_between_directories_report_both_ends(watched) -> None:
    root, rec, _ = watched
    (root / "a").mkdir()
    (root / "b").mkdir()
    (root / "a" / "db.nomad").write_text("x")
    await rec.paths_until({"a/db.nomad"})
    os.rename(root / "a" / "db.nomad", root / "b" / "db.nomad")
    await rec.paths_until({"a/db.nomad", "b/db.nomad"})


async def test_git_internals_and_ignored_files_are_not_triggers(watched) -> None:
    root, rec, _ = watched
    (root / ".git").mkdir()
    (root / "drafts").mkdir()
    for i in range(5):
        (root / ".git" / f"obj{i}").write_text("x")
        (root / "drafts" / f"d{i}.nomad").write_text("x")
    (root / "notes.txt").write_text("x")
    assert await rec.drain_with_marker(root, "sentinel.nomad") == {"sentinel.nomad"}


async def test_reading_files_is_not_a_trigger(watched) -> None:
    root, rec, _ = watched
    (root / "web.nomad").write_text("x")
    assert "web.nomad" in await rec.drain_with_marker(root, "m1.nomad")
    for _ in range(3):
        (root / "web.nomad").read_text()  # what the loader does on every scan
    assert await rec.drain_with_marker(root, "m2.nomad") == {"m2.nomad"}


async def test_symlink_switch_is_followed(tmp_path: Path) -> None:
    # git-sync layout: current -> rev-1, later atomically switched to rev-2.
    rev1, rev2 = tmp_path / "rev-1", tmp_path / "rev-2"
    rev1.mkdir()
    rev2.mkdir()
    current = tmp_path / "current"
    current.symlink_to("rev-1")
    rec = Recorder()
    watcher = JobsDirWatcher(
        str(current), on_paths=rec.batches.put_nowait,
        on_switch=lambda: rec.switches.put_nowait(None),
    )
    watcher.start()
    try:
        (rev1 / "a.nomad").write_text("x")
        await rec.paths_until({"a.nomad"})
        tmp_link = tmp_path / "current.tmp"
        tmp_link.symlink_to("rev-2")
        os.replace(tmp_link, current)  # atomic switch, as git-sync does it
        await asyncio.wait_for(rec.switches.get(), 5)
        assert watcher.target == str(rev2.resolve())
        # Changes in the new checkout are seen; the old one is no longer watched.
        (rev1 / "old.nomad").write_text("x")
        (rev2 / "b.nomad").write_text("x")
        seen = await rec.paths_until({"b.nomad"})
        assert "old.nomad" not in seen
    finally:
        watcher.stop()


async def test_files_open_for_writing_are_known_until_closed(watched) -> None:
    root, rec, watcher = watched
    assert watcher.tracks_writes  # inotify on Linux
    fh = open(root / "web.nomad", "w")  # noqa: SIM115 - held open on purpose
    try:
        fh.write('job "web" {')
        fh.flush()
        await rec.paths_until({"web.nomad"})
        async with asyncio.timeout(5):
            while "web.nomad" not in watcher.writing:
                await rec.batches.get()
    finally:
        fh.close()
    async with asyncio.timeout(5):
        while "web.nomad" in watcher.writing:
            await rec.batches.get()
    # A file that arrives by rename is complete at once.
    tmp = root / ".api.nomad.tmp"
    tmp.write_text('job "api" {}')
    os.replace(tmp, root / "api.nomad")
    await rec.drain_with_marker(root, "m.nomad")
    assert watcher.writing == frozenset()


@pytest.mark.parametrize(
    ("events", "writing"),
    [
        ([("a", "created"), ("a", "modified")], {"a"}),
        ([("a", "created"), ("a", "modified"), ("a", "closed")], set()),
        ([("a", "modified"), ("a", "deleted")], set()),
        ([("a", "modified"), ("b", "modified"), ("b", "closed")], {"a"}),
        ([("a", "moved_to")], set()),
        ([("a", "created")], set()),  # also how watchdog lists a new directory: no close follows
        ([("a", "modified"), ("a", "created")], {"a"}),
        ([("a", "synthetic")], set()),
    ],
)
def test_track_write(events: list[tuple[str, str]], writing: set[str]) -> None:
    from reconciler.daemon.watcher import track_write

    state: dict[str, float] = {}
    for path, kind in events:
        track_write(state, path, kind, now=0.0)
    assert set(state) == writing


def test_writes_without_activity_go_stale() -> None:
    from reconciler.daemon.watcher import fresh_writes, track_write

    state: dict[str, float] = {}
    track_write(state, "a", "modified", now=0.0)
    track_write(state, "b", "modified", now=0.0)
    track_write(state, "b", "modified", now=1.5)
    assert fresh_writes(state, now=1.9, stale_after=2.0) == {"a", "b"}
    assert fresh_writes(state, now=2.0, stale_after=2.0) == {"b"}
    assert fresh_writes(state, now=3.5, stale_after=2.0) == frozenset()
    assert state == {}


async def test_files_in_new_directories_are_never_left_open(tmp_path: Path) -> None:
    """watchdog reports the contents of a directory it starts watching as created, and no
    close ever follows: such files must not count as being written (30 of them used to
    make every later change wait 10 s)."""
    root = tmp_path / "jobs"
    root.mkdir()
    staging = tmp_path / "staging"
    rec = Recorder()
    now = [0.0]  # the stale timeout never fires: only the events decide
    watcher = JobsDirWatcher(
        str(root), on_paths=rec.batches.put_nowait, on_switch=lambda: None,
        stale_after=3600.0, clock=lambda: now[0],
    )  # fmt: skip
    watcher.start()
    try:
        expected: set[str] = set()
        for i in range(15):  # created in place: a race between the new watch and the write
            (root / f"team{i}").mkdir()
            (root / f"team{i}" / "job.nomad").write_text(f'job "t{i}" {{}}\n')
            expected.add(f"team{i}/job.nomad")
        for i in range(15):  # moved in whole, as a checkout may: always discovered, never closed
            (staging / f"moved{i}").mkdir(parents=True)
            (staging / f"moved{i}" / "job.nomad").write_text(f'job "m{i}" {{}}\n')
            os.rename(staging / f"moved{i}", root / f"moved{i}")
            expected.add(f"moved{i}/job.nomad")
        seen = await rec.paths_until(expected, timeout=10)
        seen |= await rec.drain_with_marker(root, "marker.nomad")
        assert expected <= seen
        assert watcher.writing == frozenset()
        # A file genuinely held open is still known as being written...
        handle = open(root / "team0" / "live.nomad", "w")  # noqa: SIM115
        try:
            handle.write('job "live" {')
            handle.flush()
            await rec.paths_until({"team0/live.nomad"})
            await rec.drain_with_marker(root, "marker2.nomad")
            assert watcher.writing == {"team0/live.nomad"}
            # ...until its writer has been silent for stale_after, close event or not.
            now[0] += 3600.0
            assert watcher.writing == frozenset()
        finally:
            handle.close()
    finally:
        watcher.stop()
