"""A small syntactic check of the PromQL this platform generates (no PromQL parser is installed).

It catches what a typo or a bad f-string produces: unbalanced brackets, a metric Triton does not
publish, a malformed range or label matcher, an unknown function.
"""

from __future__ import annotations

import re

from triton_components.observability import promql as _promql

#: Series outside Triton the queries may read: Prometheus itself, kube-state-metrics, Istio.
OTHER_METRICS = {
    "up",
    "istio_requests_total",
    "kube_pod_status_ready",
    "kube_deployment_spec_replicas",
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_status_desired_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
}
FUNCTIONS = {"sum", "avg", "max", "count", "rate", "clamp_min", "absent", "vector", "label_values", "last_over_time"}
KEYWORDS = {"by", "on", "and", "or", "unless"}
_RANGE = re.compile(r"\[([^\]]*)\]")
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\{([^}]*)\}")
_MATCHER = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*(=|!=|=~|!~)"(?:[^"\\]|\\.)*"$')


def _balanced(expr: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    in_string = False
    escaped = False
    for char in expr:
        if in_string:
            escaped = not escaped and char == "\\"
            if char == '"' and not escaped:
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "([{":
            stack.append(char)
        elif char in pairs:
            if not stack or stack.pop() != pairs[char]:
                return False
    return not stack and not in_string


def problems(expr: str) -> list[str]:
    """What is wrong with ``expr``; empty when it looks sane."""
    found = []
    if not _balanced(expr):
        found.append(f"unbalanced brackets or quotes: {expr}")
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    for window in _RANGE.findall(without_strings):
        if not re.fullmatch(r"[0-9]+(ms|s|m|h)|\$__rate_interval", window):
            found.append(f"bad range [{window}] in {expr}")
    for metric, body in _SELECTOR.findall(expr):
        if metric and metric not in _promql.TRITON_METRICS | OTHER_METRICS:
            found.append(f"unknown metric {metric} in {expr}")
        for matcher in filter(None, (m.strip() for m in re.split(r',(?=[a-zA-Z_][a-zA-Z0-9_]*(?:=|!=|=~|!~)")', body))):
            if not _MATCHER.match(matcher):
                found.append(f"bad label matcher {matcher!r} in {expr}")
    without_selectors = re.sub(r"\{[^}]*\}", "", without_strings)
    for name in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*\(", without_selectors):
        if name not in FUNCTIONS | KEYWORDS:
            found.append(f"unknown function {name}() in {expr}")
    for word in re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b", without_selectors):
        if word.startswith("nv_") and word not in _promql.TRITON_METRICS:
            found.append(f"Triton publishes no metric {word}: {expr}")
    return found
