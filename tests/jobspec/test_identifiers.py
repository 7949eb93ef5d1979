"""Which job IDs are refused, and why (pure table)."""

from __future__ import annotations

import pytest

from reconciler.jobspec.identifiers import job_id_problem


@pytest.mark.parametrize(
    "job_id",
    ["web", "team/web", "a%b", "q?x=1#f", "ünï", "a.b/..c/.d", "summary", "x/summaryx", "x/force"],
)
def test_ids_nomad_can_address_are_accepted(job_id: str) -> None:
    assert job_id_problem(job_id) is None


@pytest.mark.parametrize(
    ("job_id", "reason"),
    [
        ("a b", "Job ID contains a space"),  # Nomad's own text
        ("a\x00b", "Job ID contains a null character"),
        ("a\nb", "control character (U+000A)"),
        ("a\tb", "control character (U+0009)"),
        ("a\x1b[2Jb", "control character (U+001B)"),
        ("a\x85b", "control character (U+0085)"),
        ("a\u2028b", "control character (U+2028)"),
        ("zz/../svc-02", "'..' path segment"),
        ("..", "'..' path segment"),
        (".", "'..' path segment"),
        ("a//b", "empty"),
        ("/a", "empty"),
        ("a/", "empty"),
        ("svc-01/summary", "the 'summary' endpoint of job 'svc-01'"),
        ("svc/plan", "ends in '/plan'"),
        ("svc/periodic/force", "ends in '/periodic/force'"),
        ("svc/dispatch/payload", "ends in '/dispatch/payload'"),
        ("svc/tag", "ends in '/tag'"),
    ],
)
def test_ids_nomad_refuses_or_no_url_carries_are_refused(job_id: str, reason: str) -> None:
    problem = job_id_problem(job_id)
    assert problem is not None and reason in problem
    assert "\n" not in problem and "\x1b" not in problem
