"""A giant job file is refused unread and never holds back the other jobs (daemon subprocess)."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import DaemonProcess
from tests.support.fake_state import count_of
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl
from tests.support.waiting import wait_until


def test_giant_file_in_the_same_commit_as_a_small_change(
    fake: FakeNomad, repo: GitCheckout, start_with_web: Callable[..., DaemonProcess]
) -> None:
    daemon = start_with_web("--max-file-size", "64KiB")

    padding = "# " + "x" * 97 + "\n"
    repo.write("giant.nomad", job_hcl("giant") + padding * 50_000)  # 5 MB
    repo.write("web.nomad", job_hcl("web", count=2))
    repo.commit("web: 2, and a giant file")
    wait_until(lambda: count_of(fake, "web") == 2, what="web updated")
    failed = daemon.wait_log("job file failed to load", file="giant.nomad")
    assert "more than the 65536-byte limit for a job file (--max-file-size); not parsed" in (
        failed["error"]
    )
    assert fake.read_job("giant") is None
    assert daemon.stop() == 0
