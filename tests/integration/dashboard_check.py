#!/usr/bin/env python3
"""Checks a Grafana dashboard against what the daemons really export.

    dashboard_check.py DASHBOARD.json SCRAPE.prom [SCRAPE.prom...]
    dashboard_check.py --self-test DASHBOARD.json

The dashboard must be valid JSON, every panel (rows aside) must have at
least one query with a PromQL expression, and every metric name in those
expressions (and in the template variables' label_values() queries) must
appear in one of the scrapes: as a sample, as a '# TYPE' line, or as the
_bucket/_sum/_count series of a histogram or summary. Exits 1 and names
each problem otherwise.

Names are found by taking the expression apart, not by a PromQL parser:
strings (label values), {matchers}, [ranges], grouping lists (by, without,
on, ignoring, group_left, group_right), Grafana variables and numbers are
removed first; then an identifier followed by '(' is a function, and
PromQL's keywords and aggregation operators are not metrics.
"""
import json
import re
import sys

KEYWORDS = {
    # binary and set operators, modifiers
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "atan2",
    # aggregation operators, which may come before their "by (...)"
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    # literals
    "inf", "nan", "Inf", "NaN",
}

IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$\[[^\]]*\]|\$[A-Za-z_][A-Za-z0-9_]*")
MATCHERS = re.compile(r"\{[^{}]*\}")
RANGE = re.compile(r"\[[^\[\]]*\]")
GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
NUMBER = re.compile(
    r"(?<![A-Za-z0-9_:])(0x[0-9a-fA-F]+|[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?"
    r"([smhdwy]|ms)?)")
OFFSET_AT = re.compile(r"@\s*(start\(\)|end\(\)|[0-9.]+)")


def metric_names(expr):
    """The metric names a PromQL expression reads."""
    s = STRING.sub(" ", expr)
    s = GRAFANA_VAR.sub(" 1 ", s)
    s = MATCHERS.sub(" ", s)
    s = RANGE.sub(" ", s)
    s = GROUPING.sub(r" \1 ", s)
    s = OFFSET_AT.sub(" ", s)
    s = NUMBER.sub(" ", s)
    names = set()
    for m in IDENT.finditer(s):
        word = m.group(0)
        rest = s[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function, or an aggregation with its argument
        if word in KEYWORDS:
            continue
        names.add(word)
    return names


LABEL_VALUES = re.compile(r"^\s*label_values\s*\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$")
QUERY_RESULT = re.compile(r"^\s*query_result\s*\((.*)\)\s*$")


def variable_expr(query):
    """The PromQL inside a Grafana template variable's query, or None."""
    if isinstance(query, dict):
        query = query.get("query", "")
    if not isinstance(query, str) or not query.strip():
        return None
    for rx in (LABEL_VALUES, QUERY_RESULT):
        m = rx.match(query)
        if m:
            return m.group(1)
    if re.match(r"^\s*label_values\s*\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", query):
        return None  # label_values(label): all series, no metric named
    if re.match(r"^\s*(metrics|label_names)\s*\(", query):
        return None
    return query


def panels(dash):
    """Every panel, those inside rows included."""
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []):
            yield q


def dashboard_exprs(dash, problems):
    """(where, expr) for every query; panels without one go to problems."""
    out = []
    for p in panels(dash):
        title = p.get("title", "?")
        if p.get("type") == "row":
            continue
        exprs = [t.get("expr", "") for t in p.get("targets", [])]
        exprs = [e for e in exprs if isinstance(e, str) and e.strip()]
        if not exprs:
            problems.append('panel "%s" has no PromQL expression' % title)
        for e in exprs:
            out.append(('panel "%s"' % title, e))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        e = variable_expr(v.get("query"))
        if e:
            out.append(('variable "%s"' % v.get("name", "?"), e))
    return out


SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+\S+")
TYPE = re.compile(r"^#\s+TYPE\s+([A-Za-z_:][A-Za-z0-9_:]*)\s+(\w+)")


def exported_names(text):
    """Every name a scrape in the text exposition format can be queried by."""
    names = set()
    for line in text.splitlines():
        m = TYPE.match(line)
        if m:
            name, kind = m.groups()
            names.add(name)
            if kind == "histogram":
                names |= {name + "_bucket", name + "_sum", name + "_count"}
            elif kind == "summary":
                names |= {name + "_sum", name + "_count"}
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m:
            names.add(m.group(1))
    return names


def check(dash, exported):
    """The list of problems; empty when the dashboard is good."""
    problems = []
    exprs = dashboard_exprs(dash, problems)
    if not exprs:
        problems.append("the dashboard has no PromQL expression at all")
    for where, e in exprs:
        names = metric_names(e)
        if not names:
            problems.append("%s: no metric name in '%s'" % (where, e))
        for n in sorted(names - exported):
            problems.append("%s: '%s' is not exported by any daemon (in '%s')" %
                            (where, n, e))
    return problems


def load_dashboard(path):
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    if not isinstance(dash, dict) or not isinstance(dash.get("panels"), list):
        raise ValueError("%s: not a Grafana dashboard (no panels list)" % path)
    return dash


# (expression, the names it must yield)
VECTORS = [
    ('sum(rate(twist_drops_total{reason=~"not_stun|malformed"}[5m])) by (reason)',
     {"twist_drops_total"}),
    ('sum by (code) (increase(twist_error_responses_total{instance="$instance"}[$__rate_interval]))',
     {"twist_error_responses_total"}),
    ('histogram_quantile(0.99, sum by (le) (rate(twist_syncd_replication_lag_seconds_bucket[5m])))',
     {"twist_syncd_replication_lag_seconds_bucket"}),
    ('twist_syncd_peer_up == 0 and on (instance) twist_ha_master > bool 0',
     {"twist_syncd_peer_up", "twist_ha_master"}),
    ('rate(a_total[5m] offset 1h) / ignoring(dir) group_left(x) b_total * 1e3',
     {"a_total", "b_total"}),
    ('label_replace(up{job="x"}, "host", "$1", "instance", "(.*):.*")', {"up"}),
    ('max_over_time(twist_allocations[1h:5m]) - min(twist_allocations) by (instance)',
     {"twist_allocations"}),
    ('topk(5, sum without (dir) (rate(twist_bytes_total[${__range}])))',
     {"twist_bytes_total"}),
]


def self_test(path):
    """The checker must find the names above and fail on what is wrong."""
    bad = 0
    for expr, want in VECTORS:
        got = metric_names(expr)
        if got != want:
            print("self-test: %r gave %s, expected %s" % (expr, sorted(got), sorted(want)))
            bad += 1
    dash = load_dashboard(path)
    names = set()
    for _, e in dashboard_exprs(dash, []):
        names |= metric_names(e)
    if len(names) < 10:
        print("self-test: only %d metric names in %s" % (len(names), path))
        bad += 1
    if check(dash, names):
        print("self-test: the dashboard fails against its own names")
        bad += 1
    # A renamed metric must be caught, whichever it is.
    for n in sorted(names):
        if not check(dash, names - {n}):
            print("self-test: removing '%s' from the scrape went unnoticed" % n)
            bad += 1
    empty = {"panels": [{"type": "timeseries", "title": "t", "targets": [{"expr": ""}]}]}
    if not check(empty, names):
        print("self-test: a panel without an expression went unnoticed")
        bad += 1
    hist = exported_names("# TYPE x_seconds histogram\nx_seconds_bucket{le=\"1\"} 0\n")
    if not {"x_seconds_sum", "x_seconds_count", "x_seconds_bucket"} <= hist:
        print("self-test: histogram series not resolved: %s" % sorted(hist))
        bad += 1
    print("self-test: %d vectors, %d dashboard names, %s" %
          (len(VECTORS), len(names), "FAILED" if bad else "ok"))
    return 1 if bad else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        return self_test(argv[2])
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        dash = load_dashboard(argv[1])
    except (OSError, ValueError) as e:
        print("dashboard: %s" % e)
        return 1
    exported = set()
    for p in argv[2:]:
        with open(p, encoding="utf-8") as f:
            exported |= exported_names(f.read())
    problems = check(dash, exported)
    for p in problems:
        print("dashboard: " + p)
    exprs = dashboard_exprs(dash, [])
    used = set()
    for _, e in exprs:
        used |= metric_names(e)
    print("dashboard: %d panels, %d expressions, %d metric names, %d exported: %s" %
          (sum(1 for p in panels(dash) if p.get("type") != "row"), len(exprs), len(used),
           len(exported), "FAILED" if problems else "all found"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
