"""docs/metrics.md documents exactly the series the reconciler exports."""

from __future__ import annotations

import re
from pathlib import Path

from reconciler.observability import ReconcilerMetrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_exported_series_is_documented_and_nothing_else(
    populated: ReconcilerMetrics,
) -> None:
    exported = {
        f.name + ("_total" if f.type == "counter" else "")
        for f in populated.registry.collect()
        if f.name.startswith("nomad_reconciler_")
    }
    documented = set(re.findall(r"^\| `(nomad_reconciler_\w+)`", DOC.read_text(), re.MULTILINE))
    assert exported - documented == set(), "exported but not documented"
    assert documented - exported == set(), "documented but not exported"


def test_every_alert_is_documented() -> None:
    from tests.support.monitoring import ALERTS

    documented = set(re.findall(r"^\| `(NomadReconciler\w+)`", DOC.read_text(), re.MULTILINE))
    assert documented == {r["alert"] for r in ALERTS}
