"""One parser per kind of setting value: durations, booleans, listen addresses."""

from __future__ import annotations

import pytest

from reconciler.config.values import (
    parse_bool,
    parse_duration,
    parse_go_bool,
    parse_listen_address,
)
from reconciler.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(5, 5.0), (0.25, 0.25), ("300ms", 0.3), ("5m", 300.0), ("1h30m", 5400.0), ("2.5s", 2.5),
     ("10", 10.0)],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value, name="x") == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["5 minutes", "-1", "m", True, [1], "1d"])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ConfigError, match="x"):
        parse_duration(value, name="x")


def test_parse_listen() -> None:
    assert parse_listen_address("0.0.0.0:9464") == ("0.0.0.0", 9464)
    assert parse_listen_address("[::1]:80") == ("::1", 80)
    assert parse_listen_address(":9000") == ("0.0.0.0", 9000)
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_listen_address("localhost")



@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        (":9464", ("0.0.0.0", 9464)),
        ("[::1]:9464", ("::1", 9464)),
        ("metrics.local:80", ("metrics.local", 80)),
    ],
)
def test_parse_listen_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("9464", "expected HOST:PORT"),
        ("localhost:http", "is not a number"),
        ("127.0.0.1:70000", "out of range"),
        ("::1:9464", "in brackets"),
    ],
)
def test_parse_listen_address_errors_name_the_flag(text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as exc:
        parse_listen_address(text)
    assert "--listen" in str(exc.value)




@pytest.mark.parametrize("text", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_bool_true(text: str) -> None:
    assert parse_go_bool(text) is True
    assert parse_bool(text, name="x") is True


@pytest.mark.parametrize("text", ["0", "f", "F", "FALSE", "false", "False"])
def test_go_bool_false(text: str) -> None:
    assert parse_go_bool(text) is False
    assert parse_bool(text, name="x") is False


@pytest.mark.parametrize("value", ["yes", "on", "tRuE", "", 1, None])
def test_bool_refuses_what_go_refuses(value: object) -> None:
    if isinstance(value, str):
        assert parse_go_bool(value) is None
    with pytest.raises(ConfigError, match="x: expected true or false"):
        parse_bool(value, name="x")
