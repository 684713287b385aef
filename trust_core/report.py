"""``trust report``: one self-contained HTML file for a study (or a base run and its variants).

Charts are Vega-Lite specifications rendered in the page by Vega-Embed, whose JavaScript is inlined from
``vl-convert-python`` (no CDN, no network: the file opens offline and can be mailed). Vega-Lite was chosen
because grouped bars with interval whiskers, scatter plots and tooltips are declarative one-liners, the same
spec renders in the browser and, through vl-convert (no browser needed), to SVG and PNG for a paper
(``--figures DIR``); the specs are written as plain dictionaries, so altair is not needed.

The page holds, in order: per dimension, grouped bars of every metric per subset across variants with their 95 %
intervals; trust against efficiency (each dimension's score against size on disk, peak memory and tokens/s,
one point per variant, shaped by pruning / quantization); a variants x metrics table colored by the paired
delta to the base, with significance marks; each variant's provenance; and, per variant and metric, the items
that flipped, with the prompt and both responses.

A dimension's **score** (the efficiency view) is the unweighted mean, over the dimension's metrics whose values lie
in [0, 1] and that have a direction, of each metric's value over all subsets (or, for a metric reported only per
subset, of its subsets' values), oriented so that higher is better (``1 - value`` for a lower-is-better metric).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trust_core import __version__
from trust_core.comparison import Comparison, MetricComparison, RunSide
from trust_core.errors import UserError

DIMENSIONS = ("truthfulness", "safety", "fairness", "robustness", "privacy", "ethics")
"""The order dimensions appear in (others follow, alphabetically)."""

FLIPS_SHOWN = 25
"""Flipped items shown per variant and metric (the JSON of ``trust compare`` lists them all)."""

EFFICIENCY = (
    ("size_bytes", "size on disk (bytes)"),
    ("peak_memory_bytes", "peak memory (bytes)"),
    ("tokens_per_second", "generation tokens/s"),
)


@dataclass(frozen=True)
class ReportInput:
    """What the report shows: the runs (base first), each variant's comparison with the base, and the study's
    index (efficiency, recipes) when the runs are a study's."""

    title: str
    sides: list[RunSide]
    comparisons: dict[str, Comparison]
    study: Mapping[str, Any] | None


# --------------------------------------------------------------------------- data for the charts


def kind_of(side: RunSide, study_entry: Mapping[str, Any] | None) -> str:
    """quantized, pruned, checkpoint (a model given as is) or dense."""
    variant_kind = (side.results.get("run", {}).get("variant") or {}).get("kind")
    entry = study_entry or {}
    if variant_kind == "quantize" or entry.get("quantize"):
        return "quantized"
    if variant_kind == "prune" or entry.get("prune"):
        return "pruned"
    return "checkpoint" if entry.get("model") else "dense"


def _study_entries(study: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return {entry["name"]: entry for entry in (study or {}).get("variants", [])}


def metric_rows(sides: Sequence[RunSide]) -> list[dict[str, Any]]:
    """Every metric of every run, flat: the bars' data."""
    rows = []
    for side in sides:
        for metric in side.results["metrics"]:
            ci = metric.get("ci") or [None, None]
            rows.append(
                {
                    "variant": side.label,
                    "dimension": metric.get("dimension") or metric["task"].split("/")[0],
                    "task": metric["task"],
                    "metric": metric["metric"],
                    "subset": metric["subset"] or "(all)",
                    "value": metric["value"],
                    "ci_low": ci[0],
                    "ci_high": ci[1],
                    "n": metric["n"],
                    "n_invalid": metric["n_invalid"],
                    "higher_is_better": metric["higher_is_better"],
                }
            )
    return rows


def dimension_scores(side: RunSide) -> dict[str, float]:
    """Each dimension's score (module docstring): the mean oriented value of its metrics in [0, 1] with a
    direction, each by its value over all subsets (or, for a metric reported only per subset, its subsets')."""
    by_metric: dict[tuple[str, str], list[tuple[str | None, float]]] = {}
    for metric in side.results["metrics"]:
        value, direction = metric["value"], metric["higher_is_better"]
        if value is None or direction is None or not 0.0 <= value <= 1.0:
            continue
        oriented = value if direction else 1.0 - value
        by_metric.setdefault((metric["task"], metric["metric"]), []).append((metric["subset"], oriented))
    by_dimension: dict[str, list[float]] = {}
    for (task, _), values in by_metric.items():
        overall = [value for subset, value in values if subset is None]
        by_dimension.setdefault(task.split("/", 1)[0], []).extend(overall or [value for _, value in values])
    return {dimension: sum(values) / len(values) for dimension, values in by_dimension.items()}


def efficiency_rows(data: ReportInput) -> list[dict[str, Any]]:
    """One row per variant, dimension and efficiency measure: the scatter's data."""
    entries = _study_entries(data.study)
    rows = []
    for side in data.sides:
        entry = entries.get(side.label, {})
        efficiency = entry.get("efficiency") or {}
        for dimension, score in dimension_scores(side).items():
            for key, label in EFFICIENCY:
                if efficiency.get(key) is not None:
                    rows.append(
                        {
                            "variant": side.label,
                            "kind": kind_of(side, entry),
                            "dimension": dimension,
                            "score": score,
                            "measure": label,
                            "amount": efficiency[key],
                        }
                    )
    return rows


def _ordered_dimensions(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    present = {row["dimension"] for row in rows}
    return [d for d in DIMENSIONS if d in present] + sorted(present - set(DIMENSIONS))


# --------------------------------------------------------------------------- Vega-Lite specs


def bars_spec(rows: Sequence[Mapping[str, Any]], title: str, variants: Sequence[str]) -> dict[str, Any]:
    """Grouped bars: subsets on x, one bar per variant, 95 % interval whiskers."""
    tooltip = [
        {"field": f, "type": "quantitative" if f in ("value", "ci_low", "ci_high", "n", "n_invalid") else "nominal"}
        for f in ("variant", "subset", "value", "ci_low", "ci_high", "n", "n_invalid")
    ]
    x = {"field": "subset", "type": "nominal", "title": None, "axis": {"labelAngle": -30}}
    offset = {"field": "variant", "type": "nominal", "sort": list(variants)}
    color = {"field": "variant", "type": "nominal", "sort": list(variants), "legend": {"orient": "bottom"}}
    numbers = [v for row in rows for v in (row["value"], row["ci_low"], row["ci_high"]) if v is not None]
    y_scale = {"domain": [0, 1]} if numbers and all(0.0 <= v <= 1.0 for v in numbers) else {"zero": True}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "data": {"values": list(rows)},
        "width": {"step": 14 * max(1, len(variants)) + 10},
        "height": 180,
        "layer": [
            {
                "mark": "bar",
                "encoding": {
                    "x": x,
                    "xOffset": offset,
                    "y": {"field": "value", "type": "quantitative", "title": "value", "scale": y_scale},
                    "color": color,
                    "tooltip": tooltip,
                },
            },
            {
                "mark": {"type": "rule", "color": "#333"},
                "encoding": {
                    "x": x,
                    "xOffset": offset,
                    "y": {"field": "ci_low", "type": "quantitative"},
                    "y2": {"field": "ci_high"},
                },
            },
        ],
    }


def efficiency_spec(rows: Sequence[Mapping[str, Any]], measure: str) -> dict[str, Any]:
    """Each dimension's score against one efficiency measure, a point per variant, shaped by its kind."""
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": f"trust score vs {measure}",
        "data": {"values": [row for row in rows if row["measure"] == measure]},
        "width": 320,
        "height": 220,
        "mark": {"type": "point", "filled": True, "size": 90},
        "encoding": {
            "x": {"field": "amount", "type": "quantitative", "title": measure, "scale": {"zero": False}},
            "y": {"field": "score", "type": "quantitative", "title": "dimension score", "scale": {"domain": [0, 1]}},
            "color": {"field": "dimension", "type": "nominal"},
            "shape": {"field": "kind", "type": "nominal", "title": "kind"},
            "tooltip": [{"field": f, "type": "nominal"} for f in ("variant", "kind", "dimension")]
            + [{"field": "score", "type": "quantitative"}, {"field": "amount", "type": "quantitative"}],
        },
    }


def chart_specs(data: ReportInput) -> list[tuple[str, str, dict[str, Any]]]:
    """(section, chart id, spec) for every chart of the report."""
    rows = metric_rows(data.sides)
    variants = [side.label for side in data.sides]
    charts = []
    for dimension in _ordered_dimensions(rows):
        keys = dict.fromkeys((r["task"], r["metric"]) for r in rows if r["dimension"] == dimension)
        for number, (task, metric) in enumerate(keys):
            chosen = [r for r in rows if (r["task"], r["metric"]) == (task, metric)]
            charts.append((dimension, f"{dimension}-{number}", bars_spec(chosen, f"{task}: {metric}", variants)))
    efficiency = efficiency_rows(data)
    for number, (_, measure) in enumerate(EFFICIENCY):
        if any(row["measure"] == measure for row in efficiency):
            charts.append(("efficiency", f"efficiency-{number}", efficiency_spec(efficiency, measure)))
    return charts


# --------------------------------------------------------------------------- HTML


STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
.charts{display:flex;flex-wrap:wrap;gap:18px}.chart{border:1px solid #eee;padding:6px;border-radius:4px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}
th{background:#f6f6f6;position:sticky;top:0}td.l,th.l{text-align:left}.sig{font-weight:bold}
details{margin:4px 0}summary{cursor:pointer}.item{border-left:3px solid #ccc;margin:8px 0;padding-left:8px}
pre{white-space:pre-wrap;background:#f8f8f8;padding:6px;margin:4px 0;max-height:220px;overflow:auto}
.note{color:#666;font-size:12px}code{background:#f3f3f3;padding:0 3px}
"""


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _delta_color(metric: MetricComparison) -> str:
    """Green when the variant is better, red when worse (by the metric's direction), pale when not significant."""
    if metric.delta is None or metric.higher_is_better is None or metric.delta == 0:
        return "#ffffff"
    better = (metric.delta > 0) == metric.higher_is_better
    strength = min(1.0, abs(metric.delta) / 0.2)
    alpha = 0.15 + 0.6 * strength if metric.significant else 0.08 + 0.15 * strength
    return f"rgba({'46,160,67' if better else '215,58,73'},{alpha:.2f})"


def delta_table(data: ReportInput) -> str:
    """Variants x metrics, colored by delta to the base; * marks an interval that excludes 0."""
    variants = [side.label for side in data.sides[1:]]
    keys: dict[tuple[str, str, str | None], None] = {}
    for comparison in data.comparisons.values():
        for metric in comparison.metrics:
            keys[(metric.task, metric.metric, metric.subset)] = None
    head = "".join(f"<th>{_e(name)}</th>" for name in variants)
    lines = [
        f'<table><tr><th class="l">task</th><th class="l">metric</th><th class="l">subset</th>'
        f"<th>{_e(data.sides[0].label)} (base)</th>{head}</tr>"
    ]
    lookup = {
        (name, m.task, m.metric, m.subset): m
        for name, comparison in data.comparisons.items()
        for m in comparison.metrics
    }
    for task, metric_name, subset in keys:
        base_value = next(
            (m.base for (_, t, n, s), m in lookup.items() if (t, n, s) == (task, metric_name, subset)), None
        )
        cells = []
        for name in variants:
            found = lookup.get((name, task, metric_name, subset))
            if found is None or found.delta is None:
                cells.append("<td>–</td>")
                continue
            mark = "*" if found.significant else ""
            title = f"variant {_number(found.variant)}; 95% CI {found.ci}; n {found.n_shared}"
            cells.append(
                f'<td style="background:{_delta_color(found)}" title="{_e(title)}" '
                f'class="{"sig" if mark else ""}">{found.delta:+.3f}{mark}</td>'
            )
        lines.append(
            f'<tr><td class="l">{_e(task)}</td><td class="l">{_e(metric_name)}</td>'
            f'<td class="l">{_e(subset or "(all)")}</td><td>{_number(base_value)}</td>{"".join(cells)}</tr>'
        )
    lines.append("</table>")
    return "\n".join(lines)


def provenance(data: ReportInput) -> str:
    """Per variant: model, method and recipe, variant.json essentials, judges and their calibration."""
    entries = _study_entries(data.study)
    parts = []
    for side in data.sides:
        run = side.results.get("run", {})
        variant = run.get("variant") or {}
        judges = {key: run.get(key) for key in ("judge", "refusal_judge", "toxicity_scorer", "embedder")}
        details = {
            "model": (run.get("model") or {}).get("spec"),
            "fingerprint": (run.get("model") or {}).get("fingerprint"),
            "method": variant.get("method"),
            "recipe": variant.get("recipe"),
            "variant details": variant.get("details"),
            "size on disk": variant.get("size_bytes"),
            "efficiency": (entries.get(side.label) or {}).get("efficiency"),
            "evaluators": judges,
            "seed": run.get("seed"),
            "trust": run.get("trust_version"),
        }
        body = json.dumps({k: v for k, v in details.items() if v is not None}, indent=1, default=str)
        parts.append(
            f"<details><summary><b>{_e(side.label)}</b> ({_e(kind_of(side, entries.get(side.label)))})"
            f"</summary><pre>{_e(body)}</pre></details>"
        )
    return "\n".join(parts)


def _prompt_of(record: Mapping[str, Any] | None) -> str:
    messages = (record or {}).get("messages") or []
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    return users[-1] if users else ""


def drill_down(data: ReportInput) -> str:
    """Per variant and binary metric: the items that flipped, with the prompt and both responses."""
    base = data.sides[0]
    base_records = {(r.get("task"), str(r.get("sample_id")), str(r.get("variant") or "")): r for r in base.records}
    parts = []
    for side in data.sides[1:]:
        comparison = data.comparisons.get(side.label)
        if comparison is None:
            continue
        theirs = {(r.get("task"), str(r.get("sample_id")), str(r.get("variant") or "")): r for r in side.records}
        blocks = []
        for metric in comparison.metrics:
            if metric.flips is None or not (metric.flips.lost or metric.flips.gained):
                continue
            items = [("lost", unit) for unit in metric.flips.lost] + [("gained", unit) for unit in metric.flips.gained]
            shown = []
            for direction, (sample_id, prompt_variant) in items[:FLIPS_SHOWN]:
                key = (metric.task, sample_id, prompt_variant)
                left, right = base_records.get(key), theirs.get(key)
                shown.append(
                    f'<div class="item"><b>{_e(direction)}</b> item {_e(sample_id)}{_e(" " + prompt_variant)}'
                    f"<div>prompt</div><pre>{_e(_prompt_of(left or right))}</pre>"
                    f"<div>{_e(base.label)}</div><pre>{_e((left or {}).get('response'))}</pre>"
                    f"<div>{_e(side.label)}</div><pre>{_e((right or {}).get('response'))}</pre></div>"
                )
            more = (
                f'<p class="note">{len(items) - FLIPS_SHOWN} more in trust compare --json</p>'
                if len(items) > FLIPS_SHOWN
                else ""
            )
            where = f"{metric.task} {metric.metric}" + (f" [{metric.subset}]" if metric.subset else "")
            blocks.append(
                f"<details><summary>{_e(where)}: {len(metric.flips.lost)} lost, "
                f"{len(metric.flips.gained)} gained</summary>{''.join(shown)}{more}</details>"
            )
        if blocks:
            parts.append(f"<h3>{_e(side.label)} vs {_e(base.label)}</h3>" + "\n".join(blocks))
    return "\n".join(parts) or '<p class="note">No item flipped.</p>'


def _json_for_script(value: Any) -> str:
    return json.dumps(value).replace("</", "<\\/")


RENDER_SNIPPET = """
const specs = JSON.parse(document.getElementById('trust-specs').textContent);
let rendered = 0, failed = 0;
Promise.all(specs.map(([id, spec]) => vegaEmbed('#' + id, spec, {actions: false, renderer: 'svg'})
  .then(() => { rendered += 1; })
  .catch(error => { failed += 1; console.error('chart ' + id + ': ' + error); })))
  .then(() => {
    document.body.dataset.chartsRendered = String(rendered);
    document.body.dataset.chartsFailed = String(failed);
  });
"""


def render_html(data: ReportInput) -> str:
    """The whole page, self-contained."""
    try:
        import vl_convert
    except ImportError:
        raise UserError("trust report needs vl-convert-python (pip install vl-convert-python)") from None
    charts = chart_specs(data)
    sections: dict[str, list[str]] = {}
    for section, chart_id, _ in charts:
        sections.setdefault(section, []).append(f'<div class="chart" id="{chart_id}"></div>')
    dimension_html = "".join(
        f'<h2 id="dim-{_e(name)}">{_e(name)}</h2><div class="charts">{"".join(divs)}</div>'
        for name, divs in sections.items()
        if name != "efficiency"
    )
    efficiency_html = (
        f'<div class="charts">{"".join(sections["efficiency"])}</div>'
        if "efficiency" in sections
        else '<p class="note">No efficiency figures (they come from a study\'s study.json).</p>'
    )
    specs = [[chart_id, spec] for _, chart_id, spec in charts]
    bundle = vl_convert.javascript_bundle(RENDER_SNIPPET)
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(data.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body data-charts-expected="{len(charts)}">
<h1>{_e(data.title)}</h1>
<p class="note">trust {_e(__version__)}, {_e(generated)}. Base: <b>{_e(data.sides[0].label)}</b>; variants:
{_e(", ".join(side.label for side in data.sides[1:]) or "none")}. Bars: each metric per subset with its 95 % bootstrap
interval; "(all)" is the value over all subsets. Deltas: variant − base on the items both answered, with a paired
bootstrap interval (* excludes 0); docs/user-guide.md explains every figure.</p>
{dimension_html}
<h2 id="efficiency">Trust versus efficiency</h2>
<p class="note">A dimension's score: the mean over its metrics in [0, 1] with a direction (each over all subsets),
oriented so that higher is better. One point per variant and dimension; the shape tells dense, quantized,
pruned and given checkpoint models apart.</p>
{efficiency_html}
<h2 id="deltas">Deltas to the base</h2>
<p class="note">Green: better than the base by the metric's direction, red: worse; strong colors and * when the 95 %
paired interval excludes 0. Hover a cell for the variant's value, interval and n.</p>
{delta_table(data) if data.comparisons else '<p class="note">No variant to compare.</p>'}
<h2 id="provenance">Provenance</h2>
{provenance(data)}
<h2 id="flips">Flipped items</h2>
{drill_down(data)}
<script type="application/json" id="trust-specs">{_json_for_script(specs)}</script>
<script type="module">{bundle}</script>
</body></html>
"""


def write_figures(data: ReportInput, folder: Path) -> list[Path]:
    """Every chart as SVG and PNG in ``folder`` (``--figures``), named by its chart id."""
    import vl_convert

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for _, chart_id, spec in chart_specs(data):
        svg = folder / f"{chart_id}.svg"
        svg.write_text(vl_convert.vegalite_to_svg(spec), encoding="utf-8")
        png = folder / f"{chart_id}.png"
        png.write_bytes(vl_convert.vegalite_to_png(spec, scale=2))
        written += [svg, png]
    return written
