"""Shared fixtures.  Tests never read NOMAD_ADDR & co. from the developer's shell:
it may point at a production cluster."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(autouse=True)
def _no_nomad_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("NOMAD_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def golden() -> Path:
    return GOLDEN
