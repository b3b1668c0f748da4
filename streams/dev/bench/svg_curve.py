"""A line chart of p99 latency against cameras as standalone SVG (no plotting library)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape


def curve_svg(points: Sequence[tuple[int, float]], limit_ms: float, title: str) -> str:
    """p99 latency (ms) against cameras as a standalone SVG line chart with the limit drawn."""
    width, height = 640, 400
    left, right, top, bottom = 70, 20, 40, 50
    shown = [(n, ms) for n, ms in points if math.isfinite(ms)]
    x_max = max([n for n, _ in points] + [1])
    y_max = _nice_ceiling(max([ms for _, ms in shown] + [limit_ms]) * 1.1)

    def x(n: float) -> float:
        return left + (width - left - right) * n / x_max

    def y(ms: float) -> float:
        return height - bottom - (height - top - bottom) * ms / y_max

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:g}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for i in range(6):
        ms = y_max * i / 5
        out.append(
            f'<line x1="{left}" y1="{y(ms):.1f}" x2="{width - right}" y2="{y(ms):.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y(ms) + 4:.1f}" text-anchor="end">{ms:g}</text>'
        )
    for n, _ in points:
        out.append(f'<text x="{x(n):.1f}" y="{height - bottom + 18}" text-anchor="middle">{n}</text>')
    out += [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" '
        'stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
        f'<text x="{(left + width - right) / 2:g}" y="{height - 12}" text-anchor="middle">cameras</text>',
        f'<text transform="translate(18 {(top + height - bottom) / 2:g}) rotate(-90)" '
        'text-anchor="middle">p99 capture → loudspeaker (ms)</text>',
        f'<line x1="{left}" y1="{y(limit_ms):.1f}" x2="{width - right}" y2="{y(limit_ms):.1f}" '
        'stroke="#c00" stroke-dasharray="6 4"/>',
        f'<text x="{width - right - 4}" y="{y(limit_ms) - 6:.1f}" text-anchor="end" fill="#c00">'
        f"limit {limit_ms:g} ms</text>",
    ]
    if shown:
        path = " ".join(f"{x(n):.1f},{y(ms):.1f}" for n, ms in shown)
        out.append(f'<polyline points="{path}" fill="none" stroke="#1f5fbf" stroke-width="2"/>')
        out += [
            f'<circle cx="{x(n):.1f}" cy="{y(ms):.1f}" r="4" fill="#1f5fbf"><title>{n} cameras: '
            f"{ms:.0f} ms</title></circle>"
            for n, ms in shown
        ]
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(max(value, 1e-9)))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= value:
            return factor * power
    return 10 * power
