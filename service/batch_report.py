"""The batch's HTML report: the summary, every step's count, and a chart by situation.

The chart is drawn with matplotlib (inline SVG: nothing is fetched when the page is
opened). matplotlib is an optional extra: `pip install 'dispute-guide[report]'`.
"""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime
from pathlib import Path

from service.batch_input import missing_extra
from service.tally import Tally


def need_matplotlib() -> None:
    """Refuse --report before the run when matplotlib is missing, naming the install."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise missing_extra("matplotlib", "report", "--report") from None


def chart(tally: Tally, rulebook, lang: str):
    """A matplotlib Figure: how often each step was recommended in each situation's cases."""
    import matplotlib  # the report extra, loaded only for --report
    import matplotlib.patches  # the report extra, loaded only for --report
    from matplotlib.figure import Figure  # the report extra, loaded only for --report

    situations = tally.situation_order(rulebook)
    if not situations:
        return None
    categories = list(rulebook.categories)
    colours = matplotlib.colormaps["tab10"]
    panels = [(s, tally.ranked(tally.steps_by_situation[s], rulebook)) for s in situations]
    # A fixed layout (inches): the automatic ones measure every label and take seconds.
    bar, gap, top, bottom, left = 0.2, 0.85, 0.7, 0.5, 2.4
    bars_height = bar * sum(max(len(bars), 1) for _, bars in panels)
    height = top + bottom + bars_height + gap * (len(panels) - 1)
    figure = Figure(figsize=(10, height))
    figure.subplots_adjust(
        left=left / 10,
        right=0.97,
        top=1 - top / height,
        bottom=bottom / height,
        hspace=gap / (bars_height / len(panels)),
    )
    axes = figure.subplots(
        len(panels),
        1,
        squeeze=False,
        gridspec_kw={"height_ratios": [max(len(bars), 1) for _, bars in panels]},
    )[:, 0]
    labels = rulebook.facts["situations"].labels
    for ax, (situation, bars) in zip(axes, panels, strict=True):
        cases = tally.situations[situation]
        names = [step for step, _ in bars][::-1]
        shares = [100 * count / cases for _, count in bars][::-1]
        ax.barh(
            names,
            shares,
            color=[colours(categories.index(rulebook.steps[n].category) % 10) for n in names],
        )
        title = labels.get(situation, {}).get(lang, situation)
        ax.set_title(f"{situation}: {title} ({cases:,} cases)", loc="left", fontsize=10)
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of these cases the step was recommended in", fontsize=8, labelpad=2)
        ax.tick_params(axis="y", labelsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    used = {rulebook.steps[step].category for _, bars in panels for step, _ in bars}
    handles = [
        matplotlib.patches.Patch(color=colours(i % 10), label=category)
        for i, category in enumerate(categories)
        if category in used
    ]
    figure.legend(
        handles=handles, loc="upper center", ncols=len(handles), fontsize=8, frameon=False
    )
    return figure


def _chart_svg(tally: Tally, rulebook, lang: str) -> str:
    """The chart as inline SVG (text as text: the page stays small and searchable)."""
    import matplotlib  # the report extra, loaded only for --report

    figure = chart(tally, rulebook, lang)
    if figure is None:
        return ""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "dispute-guide", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # inline: no XML prolog or doctype inside HTML


_STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.2em .8em;border-bottom:1px solid #ddd}
th{text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}svg{max-width:100%;height:auto}code{font-size:90%;white-space:nowrap}"""


def write_report(path: Path, tally: Tally, rulebook, lang: str, rows: list, source: str) -> None:
    """A self-contained HTML page: the summary (`rows`), every step's count, and the chart."""
    e = html.escape
    summary = "".join(
        f"<tr><th>{e(name)}</th><td class=n>{e(value)}</td></tr>" for name, value in rows
    )
    steps = "".join(
        f"<tr><td><code>{e(step)}</code></td><td>{e(rulebook.steps[step].texts[lang]['title'])}"
        f"</td><td>{e(rulebook.steps[step].kind)}</td><td>{e(rulebook.steps[step].category)}</td>"
        f"<td class=n>{count:,}</td><td class=n>{100 * count / tally.evaluated:.1f}</td></tr>"
        for step, count in tally.ranked(tally.steps, rulebook)
    )
    chart = _chart_svg(tally, rulebook, lang)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html>
<html lang="{e(lang)}">
<head>
<meta charset="utf-8">
<title>dispute-guide batch report: {e(source)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Batch report</h1>
<p>Input <code>{e(source)}</code>, ruleset <code>{e(rulebook.version)}</code>,
texts in <code>{e(lang)}</code>, {e(when)}.</p>
<h2>Summary</h2>
<table>{summary}</table>
<h2>Steps recommended</h2>
<table><tr><th>step</th><th>title</th><th>kind</th><th>category</th><th>cases</th><th>%</th></tr>
{steps}</table>
<h2>By situation</h2>
<p>For each situation, the share of its cases in which each step was recommended
(a case with several situations counts for each).</p>
<figure>{chart or "<p>No case was evaluated.</p>"}</figure>
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
