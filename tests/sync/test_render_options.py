"""Text rendering (colour rules, plan-like diff lines, redaction) and CLI option precedence."""

from __future__ import annotations

import argparse
import io

import pytest

from reconciler.commands.options import (
    add_connection_options,
    add_policy_options,
    build_config,
    build_policy,
)
from reconciler.core.diff import compute_job_drift
from reconciler.core.plan import ClusterState, SyncPolicy, compute_plan
from reconciler.errors import ConfigError
from reconciler.sync.render import Style, plan_summary, render_object, render_plan, use_colour
from tests.support.jobs import make_job, snapshot


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "env", "expected"),
    [(Tty(), {}, True), (Tty(), {"NO_COLOR": "1"}, False), (io.StringIO(), {}, False)],
)
def test_colour_only_on_a_terminal_without_no_color(
    stream: io.StringIO, env: dict[str, str], expected: bool
) -> None:
    assert use_colour(stream, env) is expected


def test_diff_lines_read_like_nomad_job_plan_and_hide_secrets() -> None:
    desired = make_job("web", count=2)
    live = dict(make_job("web").canonical)
    live["TaskGroups"] = [dict(live["TaskGroups"][0])]
    task = dict(live["TaskGroups"][0]["Tasks"][0], Env={"API_TOKEN": "s3cret"})
    live["TaskGroups"][0]["Tasks"] = [task]
    drift = compute_job_drift(desired, live)
    assert drift.changes is not None
    lines = render_object(drift.changes, Style(), annotations={"app": "1 create"})
    assert lines == [
        '~ Job: "web"',
        '  ~ Task Group: "app" (1 create)',
        "    ~ Count: 1 => 2",
        '    ~ Task: "sleeper"',
        '      - Env[API_TOKEN]: "<redacted>"',
    ]
    shown = render_object(drift.changes, Style(show_secrets=True))
    assert '      - Env[API_TOKEN]: "s3cret"' in shown
    coloured = render_object(drift.changes, Style(colour=True))
    assert coloured[0] == '\x1b[33m~ Job: "web"\x1b[0m'


def test_plan_text_lists_only_jobs_needing_attention_and_summarizes() -> None:
    plan = compute_plan(snapshot(make_job("new")), ClusterState(jobs={}), SyncPolicy(), now=0)
    text = render_plan(plan, Style())
    assert text[0].startswith("+ create   new  [new.nomad]")
    assert plan_summary(plan) == (
        "Plan: 1 to create, 0 to update, 0 to prune, 0 to promote, 0 held, 0 unchanged."
    )


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_options(parser)
    add_policy_options(parser, writes=True)
    return parser.parse_args(argv)


def test_connection_flags_beat_the_environment_which_beats_defaults() -> None:
    env = {"NOMAD_ADDR": "http://env:4646", "NOMAD_TOKEN": "env-token", "NOMAD_REGION": "eu"}
    assert build_config(parse(), {}).address == "http://127.0.0.1:4646"
    from_env = build_config(parse(), env)
    assert (from_env.address, from_env.token, from_env.region) == (
        "http://env:4646",
        "env-token",
        "eu",
    )
    flags = build_config(
        parse("--address", "http://flag:4646", "--token", "t", "--region", "us"), env
    )
    assert (flags.address, flags.token, flags.region) == ("http://flag:4646", "t", "us")
    assert build_config(parse("--namespace", "prod"), env).namespace == "prod"


def test_policy_flags() -> None:
    policy = build_policy(parse("--prune", "--purge", "--max-prune", "0.2", "--namespace", "a",
                                "--namespace", "b", "--wait", "--max-concurrent", "3"))  # fmt: skip
    assert policy == SyncPolicy(
        prune=True, purge=True, max_prune=0.2, namespaces=frozenset({"a", "b"}), wait=True,
        max_concurrent_deployments=3,
    )  # fmt: skip
    with pytest.raises(ConfigError, match="--purge only applies with --prune"):
        build_policy(parse("--purge"))
    with pytest.raises(SystemExit):
        parse("--max-prune", "1.5")
    assert parse("--timeout", "5m").timeout == 300.0
