"""Geometry for the inline SVG charts (bars with 95 % CI whiskers), computed here and drawn by the templates, so
the pages need no JavaScript charting library and no network. Coordinates are rounded for byte-identical output."""

from __future__ import annotations

import math

WIDTH = 640
BAR_H = 22
GAP = 8
LEFT = 200  # room for labels
RIGHT = 20
TOP = 24


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def bar_chart(bars: list[dict], signed: bool = False) -> dict | None:
    """bars: [{label, value, lo, hi, cls}] (horizontal bars). `signed` draws around a zero line (for deltas).
    Returns {width, height, zero, ticks, bars: [...]} with string coordinates, or None if nothing is finite."""
    finite = [b for b in bars if all(math.isfinite(b[k]) for k in ("value", "lo", "hi"))]
    if not finite:
        return None
    lo = min(0.0, *(b["lo"] for b in finite))
    hi = max(0.0 if signed else 1.0, *(b["hi"] for b in finite))
    if signed:
        m = max(abs(lo), abs(hi), 1e-9)
        lo, hi = -m, m
    if hi - lo < 1e-12:
        hi = lo + 1.0
    span = WIDTH - LEFT - RIGHT

    def x(v: float) -> float:
        return LEFT + (v - lo) / (hi - lo) * span

    out = []
    for i, b in enumerate(finite):
        y = TOP + i * (BAR_H + GAP)
        x0, x1 = sorted((x(0.0), x(b["value"])))
        out.append(
            {
                "label": b["label"],
                "cls": b.get("cls", ""),
                "y": _fmt(y),
                "x": _fmt(x0),
                "w": _fmt(max(x1 - x0, 0.5)),
                "h": _fmt(BAR_H),
                "cy": _fmt(y + BAR_H / 2),
                "ty": _fmt(y + BAR_H / 2 + 4),
                "c1": _fmt(y + 4),
                "c2": _fmt(y + BAR_H - 4),
                "lo": _fmt(x(b["lo"])),
                "hi": _fmt(x(b["hi"])),
                "text": f"{b['value']:+.3f}" if signed else f"{b['value']:.3f}",
                "title": f"{b['label']}: {b['value']:.3f} (95% CI {b['lo']:.3f} to {b['hi']:.3f})",
            }
        )
    ticks = [{"x": _fmt(x(v)), "text": f"{v:.2f}"} for v in (lo, (lo + hi) / 2, hi)]
    return {
        "width": WIDTH,
        "height": _fmt(TOP + len(out) * (BAR_H + GAP) + 10),
        "zero": _fmt(x(0.0)),
        "top": TOP - 6,
        "label_x": LEFT - 8,
        "ticks": ticks,
        "bars": out,
    }
