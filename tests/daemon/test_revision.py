"""The checkout's git revision, read with the git CLI from a real repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from reconciler.revision import checkout_busy, parse_status_v2, read_revision

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=GIT_ENV
    ).stdout.strip()


def test_parse_status_v2() -> None:
    out = "# branch.oid 0123abcd\n# branch.head main\n1 .M N... 100644 100644 100644 a b web.nomad\n"
    rev = parse_status_v2(out)
    assert rev is not None
    assert (rev.commit, rev.ref, rev.dirty) == ("0123abcd", "main", True)
    clean = parse_status_v2("# branch.oid 0123abcd\n# branch.head (detached)\n")
    assert clean is not None and clean.dirty is False and clean.ref is None
    assert parse_status_v2("# branch.oid (initial)\n# branch.head main\n") is None


async def test_read_revision_follows_commits_checkouts_and_dirt(tmp_path: Path) -> None:
    repo = tmp_path / "jobs"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    assert await read_revision(str(repo)) is None  # no commit yet
    (repo / "web.nomad").write_text('job "web" {}\n')
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    first = git(repo, "rev-parse", "HEAD")
    rev = await read_revision(str(repo))
    assert rev is not None and (rev.commit, rev.dirty, rev.ref) == (first, False, "main")

    (repo / "web.nomad").write_text('job "web" { type = "batch" }\n')
    rev = await read_revision(str(repo))
    assert rev is not None and rev.commit == first and rev.dirty is True

    git(repo, "commit", "-q", "-am", "two")
    second = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", first)
    rev = await read_revision(str(repo))
    assert rev is not None and rev.commit == first and rev.ref is None and not rev.dirty
    assert second != first
    # Reading never changes the checkout.
    assert git(repo, "status", "--porcelain") == ""


async def test_not_a_checkout(tmp_path: Path) -> None:
    assert await read_revision(str(tmp_path)) is None
    assert await read_revision(str(tmp_path / "missing")) is None


async def test_a_checkout_git_is_changing_is_busy(tmp_path: Path) -> None:
    repo = tmp_path / "jobs"
    (repo / "team").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "team" / "web.nomad").write_text('job "web" {}\n')
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    assert (await read_revision(str(repo / "team"))).busy is False  # type: ignore[union-attr]
    assert await checkout_busy(str(repo / "team")) is False
    # git holds index.lock for the whole of a checkout, pull or merge.
    (repo / ".git" / "index.lock").write_text("")
    rev = await read_revision(str(repo / "team"))
    assert rev is not None and rev.busy is True
    assert await checkout_busy(str(repo / "team")) is True
    assert await checkout_busy(str(tmp_path)) is False  # not a checkout
