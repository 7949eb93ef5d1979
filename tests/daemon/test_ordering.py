"""Waves and the deployment cap across passes (pure tables)."""

from __future__ import annotations

import pytest

from reconciler.daemon.ordering import defer_changes

DB, API, WEB, BATCH = ("default", "db"), ("default", "api"), ("default", "web"), ("default", "mig")


@pytest.mark.parametrize(
    ("changed", "deploying", "rolling", "held", "cap", "expected"),
    [
        # one commit changes wave 0 and wave 1: wave 1 waits
        ({DB: 0, API: 1}, {DB, API}, {}, {}, 0, {API: "wave"}),
        # wave 0 is rolling out from an earlier pass: wave 1 waits; same wave does not
        ({API: 1, WEB: 0}, {API, WEB}, {DB: 0}, {}, 0, {API: "wave"}),
        # nothing lower is going on
        ({API: 1}, {API}, {WEB: 1}, {}, 0, {}),
        # a lower wave held after a failed rollout stops later waves
        ({API: 1}, {API}, {}, {DB: 0}, 0, {API: "wave"}),
        # a job never waits for its own rollout (the new spec supersedes it)
        ({DB: 0}, {DB}, {DB: 0}, {}, 0, {}),
        # the cap: two running, cap 3 → one more may start, in wave/name order
        ({API: 0, WEB: 0}, {API, WEB}, {DB: 0, ("default", "x"): 0}, {}, 3,
         {WEB: "deployment_cap"}),
        # jobs without a deployment (batch) never count against the cap
        ({BATCH: 0, API: 0}, {API}, {DB: 0}, {}, 2, {}),
        # no cap: everything in one wave goes
        ({API: 0, WEB: 0, DB: 0}, {API, WEB, DB}, {}, {}, 0, {}),
    ],
)
def test_defer_changes(changed, deploying, rolling, held, cap, expected) -> None:
    got = defer_changes(changed, deploying=deploying, rolling=rolling, held=held, cap=cap)
    assert {k: d.reason for k, d in got.items()} == expected


def test_deferral_says_what_it_waits_for() -> None:
    got = defer_changes({API: 2}, deploying={API}, rolling={}, held={DB: 1})
    assert got[API].detail == "waiting for wave 1: default/db is held after a failed rollout"
    got = defer_changes({API: 2, DB: 0}, deploying={API, DB}, rolling={}, held={})
    assert got[API].detail == "waiting for wave 0 of this change"
