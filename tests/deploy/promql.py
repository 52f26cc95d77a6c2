"""The metric names a PromQL expression reads, and every query of the deployment files.

Not a PromQL parser (promtool checks that the expressions are valid): strings, label matchers,
ranges, ``by (...)`` clauses and function calls are taken out, and what is left that looks like a
name is one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless",
             "inf", "nan"}
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\b[a-zA-Z_]\w*\s*\(", "(", text)  # function names
    text = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?[smhdwy]?\b", " ", text)  # numbers and durations
    return {word for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text) if word.lower() not in _KEYWORDS}


def as_prometheus(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced by what they stand for at some moment."""
    return expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$instance", ".*")


def dashboard_queries(path: Path) -> Iterator[str]:
    board = json.loads(path.read_text())
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield target["expr"]
    for variable in board.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query.get("query") if isinstance(query, dict) else query
        if isinstance(text, str) and (match := re.fullmatch(r"label_values\((\w+),\s*\w+\)", text)):
            yield match.group(1)


def alert_queries() -> Iterator[str]:
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule["expr"]
