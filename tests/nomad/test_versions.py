"""Version parsing and the API features each Nomad version has."""

from __future__ import annotations

import pytest

from reconciler.nomad.versions import features_for, parse_version, version_from_agent_self


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1.0.18", (1, 0, 18)),
        ("v1.6.0-beta.1", (1, 6, 0)),
        ("1.7.2+ent", (1, 7, 2)),
        ("2.0", (2, 0, 0)),
    ],
)
def test_parse_version(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_version(text) == expected


def test_parse_version_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a Nomad version"):
        parse_version("dev")


def test_version_from_agent_self_config_and_member_fallback() -> None:
    assert version_from_agent_self({"config": {"Version": {"Version": "1.4.3"}}}) == (1, 4, 3)
    assert version_from_agent_self({"member": {"Tags": {"build": "1.0.18"}}}) == (1, 0, 18)
    with pytest.raises(ValueError):
        version_from_agent_self({"stats": {}})


@pytest.mark.parametrize(
    "version,list_meta,submission,parse_vars,bearer",
    [
        ((1, 0, 18), False, False, False, False),
        ((1, 3, 2), False, False, False, True),
        ((1, 4, 2), False, False, False, True),
        ((1, 4, 3), True, False, False, True),
        ((1, 6, 0), True, True, True, True),
        ((2, 0, 5), True, True, True, True),
    ],
)
def test_feature_gates(
    version: tuple[int, int, int], list_meta: bool, submission: bool, parse_vars: bool, bearer: bool
) -> None:
    features = features_for(version)
    assert features.list_meta is list_meta
    assert features.register_submission is submission
    assert features.parse_variables is parse_vars
    assert features.bearer_auth is bearer
