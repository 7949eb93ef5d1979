"""The project's Prometheus alert rules and Grafana dashboard, loaded for the tests,
and the parts of an alert expression that must return data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARD_PATH = ROOT / "grafana" / "nomad-reconciler.json"
COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}


def load(name: str) -> Any:
    """A YAML file of ``deploy/prometheus``."""
    return yaml.safe_load((PROMETHEUS_DIR / name).read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in load("alerts.yml")["groups"] for r in g["rules"] if "alert" in r]


ALERTS = alert_rules()


def load_dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD_PATH.read_text())
    return data


DASHBOARD = load_dashboard()
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
TARGETS = [(p["title"], t) for p in PANELS for t in p["targets"]]


def data_queries(node: promql_parser.Expr) -> list[str]:
    """The parts of an alert expression that must return data when the series exist.

    A threshold filters series away when the alert is quiet, and absent()
    returns nothing while its argument exists, so both are looked through.
    """
    if isinstance(node, promql_parser.ParenExpr):
        return data_queries(node.expr)
    if isinstance(node, promql_parser.BinaryExpr):
        op = str(node.op)
        if op in COMPARISONS and isinstance(node.rhs, promql_parser.NumberLiteral):
            return data_queries(node.lhs)
        if op in {"or", "and"}:
            return data_queries(node.lhs) + data_queries(node.rhs)
    if isinstance(node, promql_parser.Call) and node.func.name == "absent":
        return [str(arg) for arg in node.args]
    return [str(node)]
