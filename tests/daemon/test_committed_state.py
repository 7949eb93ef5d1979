"""GitOps means committed: what is applied is the checkout's commit, not its uncommitted edits.

Real git repositories, the daemon (and the one-shot commands) as real subprocesses
against the Nomad fake.  An uncommitted edit, a new untracked file or an uncommitted
deletion changes nothing in Nomad until it is committed; ``--apply-uncommitted`` opts in
for a local development loop; a directory outside git is applied as it is, with a warning.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reconciler.revision import SourceKind, parse_porcelain_z, resolve_jobs_source
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import REPO_ROOT
from tests.support.fake_state import count_of
from tests.support.git import GIT_ENV, GitCheckout
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until


def test_parse_porcelain_z_gives_paths_relative_to_the_jobs_dir() -> None:
    out = b" M jobs/a.nomad\0?? jobs/new.nomad\0R  jobs/b.nomad\0jobs/old.nomad\0 D jobs/c.nomad\0"
    assert parse_porcelain_z(out, "jobs/") == ("a.nomad", "b.nomad", "c.nomad", "new.nomad")
    assert parse_porcelain_z(b"", "") == ()


def test_resolve_jobs_source_prefers_the_commit_of_a_dirty_checkout(tmp_path: Path) -> None:
    repo = GitCheckout(tmp_path / "repo")
    repo.write("jobs/a.nomad", job_hcl("a"))
    repo.write("other/readme.txt", "x")
    repo.commit()
    jobs, cache = str(repo.root / "jobs"), tmp_path / "cache"
    cache.mkdir()
    assert resolve_jobs_source(jobs, cache_dir=str(cache)).kind is SourceKind.CLEAN
    (repo.root / "other/readme.txt").write_text("edited")  # outside the jobs dir: still clean
    assert resolve_jobs_source(jobs, cache_dir=str(cache)).kind is SourceKind.CLEAN

    repo.write("jobs/a.nomad", job_hcl("a", count=2))
    repo.write("jobs/new.nomad", job_hcl("new"))
    source = resolve_jobs_source(jobs, cache_dir=str(cache))
    assert source.kind is SourceKind.COMMITTED
    assert source.uncommitted == ("a.nomad", "new.nomad")
    assert sorted(os.listdir(source.root)) == ["a.nomad"]
    assert Path(source.root, "a.nomad").read_text() == job_hcl("a")
    opted_in = resolve_jobs_source(jobs, cache_dir=str(cache), uncommitted=True)
    assert (opted_in.kind, opted_in.root) == (SourceKind.WORKING_TREE, jobs)

    plain = tmp_path / "plain"
    plain.mkdir()
    assert resolve_jobs_source(str(plain), cache_dir=str(cache)).kind is SourceKind.NOT_GIT


def test_uncommitted_edits_wait_for_their_commit(fake: FakeNomad, tmp_path: Path, start_daemon) -> None:
    repo = GitCheckout(tmp_path / "repo")
    repo.write("jobs/a.nomad", job_hcl("a"))
    repo.write("jobs/gone.nomad", job_hcl("gone"))
    repo.commit("initial")
    daemon = start_daemon(repo.root / "jobs", fake.address, "--prune", "--prune-grace", "0")
    wait_until(lambda: count_of(fake, "a") == 1 and count_of(fake, "gone") == 1, what="initial sync")

    repo.write("jobs/a.nomad", job_hcl("a", count=2))  # edited,
    repo.write("jobs/new.nomad", job_hcl("new"))  # created,
    (repo.root / "jobs/gone.nomad").unlink()  # deleted: none of it committed
    warning = daemon.wait_log(
        "uncommitted changes are not applied (commit them, or run with --apply-uncommitted)"
    )
    assert warning["paths"] == ["a.nomad", "gone.nomad", "new.nomad"]
    daemon.wait_metric("nomad_reconciler_source_revision_info", lambda v: v == 1,
                       revision=repo.head(), dirty="true")  # fmt: skip
    assert count_of(fake, "a") == 1 and fake.read_job("new") is None
    assert fake.read_job("gone") is not None and not fake.read_job("gone").get("Stop")

    commit = repo.commit("a: two, new, gone")  # a commit changes no file under jobs/
    wait_until(lambda: count_of(fake, "a") == 2 and count_of(fake, "new") == 1,
               what="the committed changes applied")  # fmt: skip
    wait_until(lambda: (fake.read_job("gone") or {}).get("Stop"), what="the removed job pruned")
    daemon.wait_metric("nomad_reconciler_source_revision_info", lambda v: v == 1,
                       revision=commit, dirty="false")  # fmt: skip
    daemon.wait_log("the jobs directory is clean again: applying its commit")


def test_apply_uncommitted_is_the_local_development_loop(
    fake: FakeNomad, repo: GitCheckout, start_daemon
) -> None:
    repo.write("a.nomad", job_hcl("a"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, "--apply-uncommitted")
    wait_until(lambda: count_of(fake, "a") == 1, what="initial sync")
    repo.write("a.nomad", job_hcl("a", count=3))
    wait_until(lambda: count_of(fake, "a") == 3, what="the uncommitted edit applied")
    daemon.wait_log("applying uncommitted changes (--apply-uncommitted)")


def test_a_directory_outside_git_is_applied_as_it_is_with_a_warning(
    fake: FakeNomad, tmp_path: Path, start_daemon
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.nomad").write_text(job_hcl("a"))
    daemon = start_daemon(plain, fake.address)
    wait_until(lambda: count_of(fake, "a") == 1, what="initial sync")
    daemon.wait_log("the jobs directory is not in a git checkout: applying its files as they are")
    (plain / "a.nomad").write_text(job_hcl("a", count=2))
    wait_until(lambda: count_of(fake, "a") == 2, what="the edit applied")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
        cwd=REPO_ROOT, env={**env, **GIT_ENV, "PATH": os.environ["PATH"]}, timeout=60,
    )  # fmt: skip


def test_sync_applies_the_commit_unless_asked_for_uncommitted_edits(
    fake: FakeNomad, repo: GitCheckout
) -> None:
    repo.write("a.nomad", job_hcl("a"))
    repo.commit()
    repo.write("a.nomad", job_hcl("a", count=2))
    done = _cli("sync", str(repo.root), "--address", fake.address)
    assert done.returncode == 0, done.stderr
    assert "uncommitted changes" in done.stderr and "a.nomad" in done.stderr
    assert count_of(fake, "a") == 1
    plan = _cli("plan", str(repo.root), "--address", fake.address, "--apply-uncommitted")
    assert plan.returncode == 2, plan.stderr  # the edit is pending
    done = _cli("sync", str(repo.root), "--address", fake.address, "--apply-uncommitted")
    assert done.returncode == 0, done.stderr
    assert count_of(fake, "a") == 2
    status = _cli("status", str(repo.root), "--address", fake.address)
    assert status.returncode == 0, status.stderr
    commit_line = f"Commit: {repo.head()[:12]} on main (the checkout also has uncommitted changes)."
    assert commit_line in status.stdout.splitlines()
    assert "uncommitted changes" in status.stderr  # and they are not what status compares
