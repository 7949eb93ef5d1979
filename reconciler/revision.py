"""The git state of the jobs checkout, via the git CLI: its revision and its committed files.

Responsible for reading (never writing) the checkout's git state on each pass,
so it can be reported in logs, metrics and status, and for deciding which
files may be applied: the committed ones (``resolve_jobs_source``), never an
uncommitted edit unless asked.  The revision is never put
into jobs: a commit hash in Meta would make every commit a new job version.

One ``git status --porcelain=v2 --branch`` call answers all three questions
(``# branch.oid``, ``# branch.head``, and any entry line means dirty).  A
directory that is not a git checkout (or git missing) yields ``None``.
``busy`` says git holds ``index.lock`` (a checkout, pull or merge in
progress): pruning never trusts such a snapshot (``reconciler.core.prune``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass

from reconciler.model import Revision

GIT_TIMEOUT_S = 10.0


def parse_status_v2(output: str) -> Revision | None:
    """Pure: a ``Revision`` from ``git status --porcelain=v2 --branch`` output."""
    commit: str | None = None
    ref: str | None = None
    dirty = False
    for line in output.splitlines():
        if line.startswith("# branch.oid "):
            value = line.removeprefix("# branch.oid ").strip()
            commit = None if value == "(initial)" else value
        elif line.startswith("# branch.head "):
            value = line.removeprefix("# branch.head ").strip()
            ref = None if value == "(detached)" else value
        elif line and not line.startswith("#"):
            dirty = True
    if commit is None:
        return None
    return Revision(commit=commit, dirty=dirty, ref=ref)


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    # Never prompt, never take locks (a concurrent `git pull` owns index.lock), C locale.
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
    return env


async def _git(path: str, *args: str) -> str | None:
    """``git -C path ARGS`` stdout, or None (not a checkout, git missing, timeout)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "git", "-C", path, *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=_git_env(),
        )  # fmt: skip
    except OSError:  # git not installed
        return None
    try:
        stdout, _ = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None
    return stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


async def checkout_busy(path: str) -> bool:
    """Is git changing the checkout now?  It holds ``index.lock`` in the git directory
    (of this work tree) for the whole of a checkout, pull, merge or reset."""
    git_dir = await _git(path, "rev-parse", "--absolute-git-dir")
    return bool(git_dir and os.path.exists(os.path.join(git_dir.strip(), "index.lock")))


async def read_revision(path: str) -> Revision | None:
    """The checkout's revision, or None when ``path`` is not in a git work tree.

    ``busy`` is set when git holds ``index.lock`` after the status was read.
    """
    revision = await _read_status(path)
    if revision is not None and await checkout_busy(path):
        revision = dataclasses.replace(revision, busy=True)
    return revision


async def _read_status(path: str) -> Revision | None:
    output = await _git(path, "status", "--porcelain=v2", "--branch", "--untracked-files=normal")
    return None if output is None else parse_status_v2(output)


# -- the committed state of the jobs directory ------------------------------------------


class SourceKind(enum.StrEnum):
    """Where a load of the jobs directory reads its files."""

    CLEAN = "clean"  # a git checkout without uncommitted changes: the files are the commit
    COMMITTED = "committed"  # uncommitted changes: a copy of the commit's tree, not the files
    WORKING_TREE = "working_tree"  # uncommitted changes applied on purpose (--apply-uncommitted)
    NOT_GIT = "not_git"  # not in a git checkout: the files as they are


@dataclass(frozen=True)
class JobsSource:
    """The directory to load, and what it holds compared with the checkout's files."""

    root: str
    kind: SourceKind
    uncommitted: tuple[str, ...] = ()  # paths (relative to the jobs dir) not committed


def _git_sync(path: str, *args: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", "-C", path, *args], capture_output=True, env=_git_env(),
            stdin=subprocess.DEVNULL, timeout=GIT_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def parse_porcelain_z(output: bytes, prefix: str) -> tuple[str, ...]:
    """Pure: changed paths from ``git status --porcelain=v1 -z``, relative to ``prefix``.

    Porcelain paths are relative to the repository root; a rename's second field
    (its source) is skipped.
    """
    paths: list[str] = []
    fields = output.decode("utf-8", "replace").split("\0")
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        if "R" in status or "C" in status:
            i += 1  # the rename or copy source
        paths.append(path.removeprefix(prefix))
    return tuple(sorted(set(paths)))


def read_git_dirs(path: str) -> tuple[str, ...]:
    """The git directories whose HEAD and refs say which commit ``path`` is at (or none)."""
    out = _git_sync(path, "rev-parse", "--absolute-git-dir", "--git-common-dir")
    if out is None:
        return ()
    lines = [ln for ln in out.decode("utf-8", "replace").splitlines() if ln]
    dirs = [os.path.normpath(os.path.join(path, ln)) for ln in lines]
    return tuple(dict.fromkeys(dirs))


def resolve_jobs_source(path: str, *, cache_dir: str, uncommitted: bool = False) -> JobsSource:
    """Which directory holds the state of ``path`` that may be applied.

    GitOps means committed: in a git checkout with uncommitted changes under
    ``path`` (edits, new or deleted files), the commit's tree of ``path`` is
    materialized under ``cache_dir`` (once per tree) and loaded instead of the
    files, unless ``uncommitted`` asks for the files.  A clean checkout (and a
    git-sync checkout, which is always clean) is loaded in place.  A directory
    outside any git checkout is loaded as it is: there is no commit to prefer.
    """
    top_out = _git_sync(path, "rev-parse", "--show-toplevel", "--show-prefix")
    if top_out is None:
        return JobsSource(path, SourceKind.NOT_GIT)
    top, _, prefix = top_out.decode("utf-8", "replace").partition("\n")
    prefix = prefix.strip()
    status = _git_sync(path, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".")
    changed = parse_porcelain_z(status or b"", prefix)
    if not changed:
        return JobsSource(path, SourceKind.CLEAN)
    if uncommitted:
        return JobsSource(path, SourceKind.WORKING_TREE, changed)
    tree_out = _git_sync(path, "rev-parse", "--verify", "--quiet", "HEAD:./")
    tree = tree_out.decode().strip() if tree_out else None  # None: no commit holds path yet
    committed = materialize_tree(top.strip(), tree, cache_dir=cache_dir)
    return JobsSource(committed, SourceKind.COMMITTED, changed)


def materialize_tree(toplevel: str, tree: str | None, *, cache_dir: str) -> str:
    """A directory holding the git ``tree``, extracted once.

    ``git archive`` runs at the repository's top level: in a subdirectory it
    would keep only the entries under that subdirectory's path.
    """
    dest = os.path.join(cache_dir, tree or "empty")
    if os.path.isdir(dest):
        return dest
    staging = tempfile.mkdtemp(dir=cache_dir, prefix=".staging-")
    try:
        if tree is not None:
            archive = _git_sync(toplevel, "archive", "--format=tar", tree)
            if archive is None:
                raise OSError(f"git archive {tree} failed in {toplevel}")
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(staging, filter="tar")
        os.rename(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for name in os.listdir(cache_dir):  # only the latest tree is kept
        if name != os.path.basename(dest) and not name.startswith(".staging-"):
            shutil.rmtree(os.path.join(cache_dir, name), ignore_errors=True)
    return dest
