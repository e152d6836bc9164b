"""One self-contained HTML page of a run or a plan (``--report FILE.html``).

Rules
-----
1. Self-contained and offline: the style is inline, every plot an inline
   ``data:image/png;base64`` image, no script, no font or file from anywhere.
2. It holds what the terminal shows and what a reader needs without the
   source: the scenario and its host settings, the comparison (a row per
   quantity, a column per design) with the legend beside it, one line per
   design, the per-guest breakdown, the plots, and the settings of the run
   (seed, rounds, Xen profile, ioreqlab's version).
3. Every text is escaped (a scenario's name or description is the user's).
4. Pure: strings and bytes in, one string out; the CLI writes it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

from ioreqlab import __version__
from ioreqlab.analysis.compare import COLUMNS, LEGEND, TIMING, cell, describe, design_summaries
from ioreqlab.scenario.runner import DesignResult
from ioreqlab.scenario.spec import Scenario

__all__ = ["plan_report", "run_report"]

_STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eee; text-align: left; }
dt { font-weight: bold; } dd { margin: 0 0 0.4em 1.5em; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
.timing { color: #666; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    out = [f'<table class="{cls}">' if cls else "<table>"]
    out.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>")
    for row in rows:
        cells = [f"<th>{_e(row[0])}</th>"] + [f'<td class="n">{_e(c)}</td>' for c in row[1:]]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _page(title: str, body: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _scenario_section(scenario: Scenario) -> list[str]:
    host = describe(scenario)["host"]
    assert isinstance(host, dict)
    rows = [[k, ", ".join(map(str, v)) if isinstance(v, list) else str(v)] for k, v in host.items()]
    guests = [[d.name, str(d.count), d.workload.kind] for d in scenario.domains]
    return [
        "<h2>Scenario</h2>",
        f"<p>{_e(scenario.description)}</p>" if scenario.description else "",
        "<h3>Host</h3>",
        _table(["setting", "value"], rows, "host"),
        "<h3>Domains</h3>",
        _table(["domain", "count", "workload"], guests, "domains"),
    ]


def _plots_section(plots: Mapping[str, bytes]) -> list[str]:
    if not plots:
        return []
    out = ["<h2>Plots</h2>"]
    for name, png in plots.items():
        data = base64.b64encode(png).decode("ascii")
        out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{_e(name)}">')
        out.append(f"<figcaption>{_e(name)}</figcaption></figure>")
    return out


def _settings(scenario: Scenario, extra: Sequence[tuple[str, str]]) -> list[str]:
    rows = [
        ["seed", str(scenario.seed)], ["rounds", str(scenario.rounds)],
        ["Xen profile", scenario.host.xen], ["ioreqlab", __version__], *map(list, extra),
    ]  # fmt: skip
    return ["<h2>Settings</h2>", _table(["setting", "value"], rows, "settings")]


def run_report(
    scenario: Scenario, results: Mapping[str, DesignResult], plots: Mapping[str, bytes]
) -> str:
    """``ioreqlab run --report``: the whole run on one page."""
    names = list(results)
    counts = [[label, *(cell(results[n], key) for n in names)] for label, key in COLUMNS[1:]]
    timing = [[label, *(cell(results[n], key) for n in names)] for label, key in TIMING]
    guests = sorted({g for r in results.values() for g in r.guests})
    fields = sorted({f for r in results.values() for g in r.guests.values() for f in g})
    per_guest = []
    for n in names:
        for g in guests:
            values = results[n].guests.get(g, {})
            per_guest.append([f"{n} / {g}", *(f"{values.get(f, 0):,}" for f in fields)])
    body = [
        f"<h1>ioreqlab run: {_e(scenario.name)}</h1>",
        *_scenario_section(scenario),
        "<h2>Comparison</h2>",
        _table(["", *names], counts, "comparison"),
        "<p class=\"timing\">Timing: this machine's, the model's own, not Xen's.</p>",
        _table(["", *names], timing, "timing"),
        '<ul class="summaries">'
        + "".join(f"<li>{_e(s)}</li>" for s in design_summaries(results))
        + "</ul>",
        "<h3>What each row counts</h3>",
        '<dl class="legend">'
        + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in LEGEND)
        + "</dl>",
        "<h2>Per guest</h2>",
        _table(["design / guest", *fields], per_guest, "guests") if fields else "<p>none</p>",
        *_plots_section(plots),
        *_settings(scenario, [("designs", ", ".join(names))]),
    ]
    return _page(f"ioreqlab run: {scenario.name}", body)


def plan_report(
    scenario: Scenario,
    lines: Sequence[str],
    sweep: Sequence[Sequence[str]],
    plots: Mapping[str, bytes],
    settings: Sequence[tuple[str, str]],
) -> str:
    """``ioreqlab plan --report``: the sweep, the answer and its cost on one page."""
    body = [
        f"<h1>ioreqlab plan: {_e(scenario.name)}</h1>",
        *_scenario_section(scenario),
        "<h2>Sweep of the rangeset design</h2>",
        _table(
            [
                "limit",
                "limit hits",
                "failsafe vGPUs",
                "lost submissions",
                "pages re-read",
                "re-read/submit",
            ],
            sweep,
            "sweep",
        ),
        "<h2>Answer</h2>",
        '<ul class="answer">' + "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul>",
        *_plots_section(plots),
        *_settings(scenario, settings),
    ]
    return _page(f"ioreqlab plan: {scenario.name}", body)
