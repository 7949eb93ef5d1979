"""Checks a PromQL expression against the series a /metrics text exposes.

Used by the dashboard and alert-rule tests: every selector must name a
series the reconciler exports (or one Prometheus makes itself), every label
it matches or groups by must exist on those series, and Grafana's variables
are replaced by values Prometheus accepts before parsing.
"""

from __future__ import annotations

import re

import promql_parser

# Prometheus attaches these to every scraped sample.
TARGET_LABELS = frozenset({"instance", "job"})
# Series Prometheus synthesizes per target rather than reading from /metrics.
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "${namespace}": ".*",
    "${job}": ".*",
    "$namespace": ".*",
    "$job": ".*",
}


def substitute_grafana_variables(expr: str, values: dict[str, str] | None = None) -> str:
    """Replace the dashboard's variables the way Grafana would with "All" selected
    (``values`` overrides some replacements)."""
    table = {**GRAFANA_VARIABLES, **(values or {})}
    for name in sorted(table, key=len, reverse=True):
        expr = expr.replace(name, table[name])
    leftover = re.findall(r"\$\{?\w+", expr)
    if leftover:
        raise ValueError(f"unknown Grafana variable(s) {leftover} in {expr!r}")
    return expr


def selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """(metric name, {label: matched value}) of every vector selector in ``expr``."""
    found: list[tuple[str, dict[str, str]]] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append((node.name or "", {m.name: m.value for m in node.matchers.matchers}))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def problems(expr: str, exposed: dict[str, set[str]]) -> list[str]:
    """What is wrong with ``expr`` given the exposed series; empty when nothing is."""
    try:
        tree = promql_parser.parse(expr)
    except ValueError as exc:
        return [f"does not parse: {exc}"]
    found: list[str] = []
    used_labels: set[str] = set(TARGET_LABELS)
    grouping: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name
            if not name:
                found.append(f"selector without a metric name: {node}")
                return
            if name in PROMETHEUS_SERIES:
                available = set(TARGET_LABELS)
            elif name in exposed:
                available = exposed[name] | TARGET_LABELS
            else:
                found.append(f"{name} is not exported")
                return
            used_labels.update(available)
            for matcher in node.matchers.matchers:
                if matcher.name not in available:
                    found.append(f"{name} has no label {matcher.name!r}")
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            grouping.update(node.modifier.labels)
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            if node.modifier.matching is not None:
                grouping.update(node.modifier.matching.labels)
            grouping.update(node.modifier.group_labels or ())

    promql_parser.walk(tree, visit)
    found.extend(
        f"groups by {label!r}, which no series in it has" for label in grouping - used_labels
    )
    return found
