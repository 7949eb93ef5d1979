"""The git revision of the jobs checkout: HEAD commit, branch and dirty flag, via the git CLI.

Responsible for reading (never writing) the checkout's git state on each pass,
so it can be reported in logs, metrics and status.  The revision is never put
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
import os

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
