"""The report page: one self-contained HTML file (plotly's JavaScript inline, no network at view time) with
each result's value, validity, accuracy against the round's target and compliance verdicts, plots of
throughput, latency percentiles, LLM token latencies against the round's limits and peak memory, and with a
second tree the differences side by side.

When every plot has rendered, the page sets `data-plots-rendered="<count>"` on <body> (or `data-plot-error`
when one failed), so a headless browser can tell a complete page from a broken one."""

from __future__ import annotations

import html

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from .summary import Result

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f0}
.ok{color:#11772d;font-weight:600}.bad{color:#b00020;font-weight:600}.muted{color:#777}
.plot{width:100%;max-width:1100px;height:420px}
"""


def _e(value) -> str:
    return html.escape(str(value))


def _label(res: Result) -> str:
    r = res.row
    return f"{r['Platform']} {r['Model']} {r['Scenario']}"


def _verdict(ok: bool, text: str) -> str:
    return f'<span class="{"ok" if ok else "bad"}">{_e(text)}</span>'


def _accuracy_cell(res: Result) -> str:
    if not res.accuracy:
        return '<span class="muted">no accuracy run</span>'
    parts = []
    for a in res.accuracy:
        value = "missing" if a["value"] is None else f"{a['value']:g}"
        bound = []
        if a["target"] is not None:
            bound.append(f"&ge; {a['target']:g}")
        if a["upper"] is not None:
            bound.append(f"&le; {a['upper']:g}")
        parts.append(f"{_e(a['metric'])} {_verdict(a['ok'], value)} <span class=muted>(target "
                     f"{' and '.join(bound) or 'none'})</span>")
    return "<br>".join(parts)


def _results_table(title: str, results: list[Result]) -> str:
    head = ("Division", "System", "Model", "Scenario", "Result", "Units", "Validity", "Accuracy", "Compliance",
            "Peak RSS (MiB)")
    rows = []
    for res in results:
        r = res.row
        validity = _verdict(res.valid, "valid" if res.valid else f"{len(res.problems) or r['errors']} problem(s)")
        if res.problems:
            validity += "<details><summary>problems</summary>" + "<br>".join(_e(p) for p in res.problems) + \
                "</details>"
        compliance = "<br>".join(f"{_e(t)} {_verdict(v == 'PASS', v)}" for t, v in res.compliance.items()) or \
            '<span class="muted">none</span>'
        rss = ", ".join(f"{m}: {v:g}" for m, v in sorted(res.peak_rss_mib.items())) or \
            '<span class="muted">not recorded</span>'
        cells = (r["Division"], r["Platform"], r["Model"], r["Scenario"], r["Result"], r["Units"])
        rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) +
                    f"<td>{validity}</td><td>{_accuracy_cell(res)}</td><td>{compliance}</td><td>{rss}</td></tr>")
    return (f"<h2>{_e(title)}</h2><table class=results><tr>" + "".join(f"<th>{h}</th>" for h in head) +
            "</tr>" + "".join(rows) + "</table>")


def _figures(trees: list[tuple[str, list[Result]]]) -> list[tuple[str, go.Figure]]:
    figs: list[tuple[str, go.Figure]] = []
    layout = {"barmode": "group", "margin": {"t": 50, "b": 120}, "legend": {"orientation": "h", "y": -0.3}}

    thr = go.Figure(layout={**layout, "title": "Throughput", "yaxis": {"title": "per second"}})
    for name, results in trees:
        have = [r for r in results if r.throughput is not None]
        thr.add_bar(name=name, x=[f"{_label(r)} ({r.throughput_unit})" for r in have],
                    y=[r.throughput for r in have])
    figs.append(("throughput", thr))

    lat = go.Figure(layout={**layout, "title": "Latency percentiles (performance run)",
                            "yaxis": {"title": "ms", "type": "log"}, "xaxis": {"title": "percentile"}})
    for name, results in trees:
        for r in results:
            if r.latency_ms:
                lat.add_scatter(name=f"{name}: {_label(r)}" if len(trees) > 1 else _label(r),
                                x=list(r.latency_ms), y=list(r.latency_ms.values()), mode="lines+markers")
    figs.append(("latency", lat))

    llm = [(name, [r for r in results if r.tokens]) for name, results in trees]
    if any(rs for _, rs in llm):
        tok = go.Figure(layout={**layout, "title": "LLM p99 TTFT and TPOT against the round's limits",
                                "yaxis": {"title": "ms", "type": "log"}})
        for name, rs in llm:
            for what in ("ttft", "tpot"):
                tok.add_bar(name=f"{name} {what.upper()} p99", x=[f"{_label(r)} {what.upper()}" for r in rs],
                            y=[r.tokens.get(f"{what}_p99_ms") for r in rs])
            limits = [(f"{_label(r)} {w.upper()}", r.tokens.get(f"{w}_limit_ms")) for r in rs for w in ("ttft", "tpot")]
            tok.add_scatter(name=f"{name} limit", x=[x for x, v in limits if v is not None],
                            y=[v for _, v in limits if v is not None], mode="markers",
                            marker={"symbol": "line-ew-open", "size": 40, "line": {"width": 3, "color": "#b00020"}})
        figs.append(("tokens", tok))

    mem = [(name, [r for r in results if r.peak_rss_mib]) for name, results in trees]
    if any(rs for _, rs in mem):
        fig = go.Figure(layout={**layout, "title": "Peak resident memory", "yaxis": {"title": "MiB"}})
        for name, rs in mem:
            for mode in ("performance", "accuracy"):
                have = [r for r in rs if mode in r.peak_rss_mib]
                if have:
                    fig.add_bar(name=f"{name} {mode}", x=[_label(r) for r in have],
                                y=[r.peak_rss_mib[mode] for r in have])
        figs.append(("memory", fig))
    return figs


def _ratio(a, b) -> str:
    try:
        return f"{float(b) / float(a):.3f}x"
    except (TypeError, ValueError, ZeroDivisionError):
        return ""


def _comparison(a: tuple[str, list[Result]], b: tuple[str, list[Result]]) -> str:
    (na, ra), (nb, rb) = a, b
    left, right = {r.key: r for r in ra}, {r.key: r for r in rb}
    head = ("Division", "System", "Model", "Scenario", f"Result {na}", f"Result {nb}", f"{nb} / {na}",
            f"Accuracy {na}", f"Accuracy {nb}", f"Validity {na}", f"Validity {nb}")
    rows = []
    for key in sorted(set(left) | set(right)):
        x, y = left.get(key), right.get(key)

        def val(r):
            return "" if r is None else f"{r.row['Result']} {r.row['Units']}"

        def acc(r):
            return "" if r is None else r.row["Accuracy"]

        def ok(r):
            return '<span class="muted">absent</span>' if r is None else _verdict(r.valid, "valid" if r.valid else
                                                                                 "invalid")
        ratio = _ratio(x.row["Result"], y.row["Result"]) if x and y else ""
        rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in (*key, val(x), val(y), ratio, acc(x), acc(y))) +
                    f"<td>{ok(x)}</td><td>{ok(y)}</td></tr>")
    return ("<h2 id=comparison>Side by side</h2><table class=comparison><tr>" +
            "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>")


def render(trees: list[tuple[str, list[Result]]], version: str) -> str:
    """The page for one or two trees: (name, results) each, checked against round `version`."""
    figs = _figures(trees)
    divs = "".join(f'<div class=plot id="plot-{key}"></div>' for key, _ in figs)
    specs = ",".join(f'{{"id":"plot-{key}","fig":{pio.to_json(fig, validate=False)}}}' for key, fig in figs)
    specs = specs.replace("</", "<\\/")
    tables = "".join(_results_table(f"Results: {name}", results) for name, results in trees)
    comparison = _comparison(trees[0], trees[1]) if len(trees) == 2 else ""
    names = " vs ".join(_e(name) for name, _ in trees)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>MLPerf Inference report: {names}</title>
<style>{STYLE}</style>
<script>{get_plotlyjs()}</script></head>
<body>
<h1>MLPerf Inference report: {names}</h1>
<p class=muted>Round {_e(version)}: results checked by <code>mlperfctl submission check</code>'s rules;
the official summary is in summary.csv beside this page.</p>
{comparison}{tables}{divs}
<script>
(function () {{
  var specs = [{specs}];
  Promise.all(specs.map(function (s) {{
    try {{
      return Plotly.newPlot(s.id, s.fig.data, s.fig.layout, {{responsive: true, displaylogo: false}});
    }} catch (e) {{
      return Promise.reject(e);
    }}
  }})).then(function () {{
    document.body.setAttribute("data-plots-rendered", String(specs.length));
  }}, function (e) {{
    document.body.setAttribute("data-plot-error", String(e));
    console.error("plot failed: " + e);
  }});
}})();
</script>
</body></html>
"""
