"""Render the leaderboard site from a Table: index.html (the sortable table), one page per model, and the table as
JSON and CSV. Pure: returns {relative path: bytes}; writing (atomically) is build.py's job. jinja2 with autoescape
on for every template, so run names, task names and sample outputs always render as inert text."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import jinja2

from .charts import bar_chart
from .load import finite
from .published import NOTE
from .table import Score, Table

MARKER = ".finbench-site"  # identifies a directory this command built (and may therefore replace)


def templates_dir() -> Path:
    """finbench/leaderboard/templates: package data, so an installed wheel has them too."""
    return Path(__file__).parent / "templates"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda x, d=3: "" if x is None or not math.isfinite(x) else f"{x:.{d}f}"
    env.filters["sortkey"] = lambda s: "" if s is None or not math.isfinite(s.value) else f"{s.value:.9f}"
    return env


def _score_json(s: Score | None) -> dict | None:
    if s is None:
        return None
    out = {"value": finite(s.value), "ci95": [finite(s.lo), finite(s.hi)], "best": s.best}
    if s.cell is not None:
        out["n"] = s.n
        if s.sample:
            out["sample"] = s.sample
    return out


def _delta_json(d) -> dict:
    return {
        "task": d.task,
        "reference": d.reference.name,
        "delta": finite(d.value),
        "ci95": [finite(d.lo), finite(d.hi)],
        "n_paired": d.n,
        "verdict": d.verdict,
    }


def table_json(table: Table, warnings: list[tuple[str, str]]) -> dict:
    return {
        "bootstrap": {"resamples": table.n_boot, "seed": table.seed, "ci": "95% percentile bootstrap over samples"},
        "columns": [
            {
                "key": c.key,
                "task": c.task,
                "metric": c.metric,
                "filter": c.filter,
                "version": c.version,
                "n_shot": c.n_shot,
                "category": c.category,
                "higher_is_better": c.higher_is_better,
            }
            for c in table.columns
        ],
        "averages": table.averaged,
        "rows": [
            {
                "model": r.entry.name,
                "run": r.entry.label,
                "page": f"models/{r.entry.slug}.html",
                "overall": _score_json(r.overall),
                "categories": {k: _score_json(v) for k, v in r.categories.items()},
                "tasks": {k: _score_json(v) for k, v in r.tasks.items()},
                "delta_vs_single_task": [_delta_json(d) for d in r.deltas],
            }
            for r in table.rows
        ],
        "references": [
            {
                "model": x.published.model,
                "task": x.published.task,
                "column": x.column.key,
                "metric": x.published.metric,
                "value": x.published.value,
                "split": x.published.split,
                "source": x.published.source,
                "note": NOTE,
                "runs": [
                    {
                        "model": r.entry.name,
                        "run": r.entry.label,
                        "value": finite(v.value),
                        "ci95": [finite(v.lo), finite(v.hi)],
                        "n": v.n,
                        "verdict": v.verdict,
                        **({"sample": r.tasks[x.column.key].sample} if r.tasks[x.column.key].sample else {}),
                    }
                    for r, v in x.runs
                ],
                "configurations": [
                    {
                        "configuration": c.name,
                        "value": finite(v.value),
                        "ci95": [finite(v.lo), finite(v.hi)],
                        "n": v.n,
                        "verdict": v.verdict,
                    }
                    for c, v in x.configurations
                ],
            }
            for x in table.references
        ],
        "configurations": [
            {
                "configuration": c.name,
                "runs": c.runs,
                "ci": "95% two-level bootstrap: seeds, then documents",
                "tasks": {k: v and {**_score_json(v), "seeds": c.seeds[k]} for k, v in c.tasks.items()},
                "delta_vs_single_task": [_delta_json(d) for d in c.deltas],
            }
            for c in table.configurations
        ],
        "flags": table.flags,
        "skipped": [{"file": f, "reason": why} for f, why in warnings],
    }


def _csv_text(value) -> str:
    """A CSV field that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def table_csv(table: Table) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    heads = ["overall"] + [f"{c} avg" for c in table.categories] + [c.key for c in table.columns]
    w.writerow(["model", "run"] + [f"{h}{s}" for h in heads for s in ("", " ci_lo", " ci_hi")])

    def cells(s: Score | None) -> list[str]:
        return ["", "", ""] if s is None else [f"{x:.6f}" if math.isfinite(x) else "" for x in (s.value, s.lo, s.hi)]

    for r in table.rows:
        row = [_csv_text(r.entry.name), _csv_text(r.entry.label)] + cells(r.overall)
        for cat in table.categories:
            row += cells(r.categories[cat])
        for c in table.columns:
            row += cells(r.tasks[c.key])
        w.writerow(row)
    return buf.getvalue()


def render(table: Table, warnings: list[tuple[str, str]], title: str) -> dict[str, bytes]:
    env = _env()
    common = {"title": title, "table": table, "n_boot": table.n_boot, "seed": table.seed, "published_note": NOTE}
    files = {"index.html": env.get_template("index.html.j2").render(warnings=warnings, **common)}
    for r in table.rows:
        bars = [
            {
                "label": c.label,
                "value": r.tasks[c.key].value,
                "lo": r.tasks[c.key].lo,
                "hi": r.tasks[c.key].hi,
                "cls": "best" if r.tasks[c.key].best else "",
            }
            for c in table.columns
            if r.tasks[c.key] is not None
        ]
        deltas = [
            {
                "label": d.task,
                "value": d.value,
                "lo": d.lo,
                "hi": d.hi,
                "cls": {"helps": "up", "hurts": "down"}.get(d.verdict, ""),
            }
            for d in r.deltas
        ]
        files[f"models/{r.entry.slug}.html"] = env.get_template("model.html.j2").render(
            row=r, score_chart=bar_chart(bars), delta_chart=bar_chart(deltas, signed=True), **common
        )
    files["leaderboard.json"] = (
        json.dumps(table_json(table, warnings), indent=1, sort_keys=True, allow_nan=False) + "\n"
    )
    files["leaderboard.csv"] = table_csv(table)
    files[MARKER] = "built by `finbench leaderboard build`; this directory is replaced as a whole on rebuild\n"
    return {k: v.encode("utf-8") for k, v in files.items()}
