"""A self-contained HTML report with inline SVG charts (no scripts, no network)."""

from __future__ import annotations

import math
from html import escape

PALETTE = ("#3b6ea8", "#e0813a", "#5a9e5a", "#b04a4a", "#7d62a8")
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;
color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;
text-align:right}td:first-child,th:first-child{text-align:left}
.note{background:#f4f6f8;border-left:4px solid #3b6ea8;padding:.6rem 1rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{font-size:.85rem;color:#555}
"""


def _frame(title: str, width: int, height: int, left: int, top: int, plot_w: int, plot_h: int) -> list[str]:
    """The opening of a chart's ``<svg>``: the element, its title and the x axis line."""
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>',
    ]


def bar_chart(
    title: str,
    categories: list[str],
    series: dict[str, list[float]],
    *,
    unit: str = "",
    width: int = 520,
    height: int = 260,
) -> str:
    """Grouped vertical bars as an ``<svg>`` element; values must be >= 0."""
    left, right, top, bottom = 56, 12, 28, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for values in series.values() for v in values] + [0.0])
    peak = peak * 1.1 if peak > 0 else 1.0
    n = max(len(categories), 1)
    group_w = plot_w / n
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1.0)
    parts = _frame(title, width, height, left, top, plot_w, plot_h)
    for tick in range(5):
        value = peak * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
            f"{_fmt(value)}{escape(unit)}</text>"
        )
    for s, (name, values) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        for i, value in enumerate(values):
            h = plot_h * max(value, 0.0) / peak
            x = left + i * group_w + group_w * 0.1 + s * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{escape(name)} · '
                f"{escape(categories[i])}: {_fmt(value)}{escape(unit)}</title></rect>"
            )
        parts.append(
            f'<rect x="{left + 130 * s}" y="{height - 14}" width="10" height="10" '
            f'fill="{color}"/><text x="{left + 14 + 130 * s}" y="{height - 5}" '
            f'font-size="11">{escape(name)}</text>'
        )
    for i, label in enumerate(categories):
        x = left + i * group_w + group_w / 2
        short = label if len(label) <= 14 else label[:13] + "…"
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 12}" font-size="10" '
            f'text-anchor="end" transform="rotate(-35 {x:.1f} {top + plot_h + 12})">'
            f"{escape(short)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    title: str,
    series: dict[str, list[tuple[float, float, float, float]]],
    *,
    x_label: str = "",
    width: int = 520,
    height: int = 280,
) -> str:
    """Lines over a log-scaled x axis as an ``<svg>``: per series, points ``(x, y, low, high)``
    (x > 0), with the band between ``low`` and ``high`` shaded."""
    left, right, top, bottom = 56, 12, 28, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [p for values in series.values() for p in values]
    xs = sorted({p[0] for p in points})
    lo_x, hi_x = math.log(xs[0]), math.log(xs[-1])
    lo_y = min(p[2] for p in points)
    hi_y = max(p[3] for p in points)
    pad = (hi_y - lo_y) * 0.1 or max(abs(hi_y) * 0.05, 1.0)
    lo_y, hi_y = lo_y - pad, hi_y + pad

    def px(x: float) -> float:
        return left + (plot_w * (math.log(x) - lo_x) / (hi_x - lo_x) if hi_x > lo_x else plot_w / 2)

    def py(y: float) -> float:
        return top + plot_h - plot_h * (y - lo_y) / (hi_y - lo_y)

    parts = _frame(title, width, height, left, top, plot_w, plot_h)
    for tick in range(5):
        value = lo_y + (hi_y - lo_y) * tick / 4
        y = py(value)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{_fmt(value)}</text>'
        )
    for x in xs:
        parts.append(
            f'<text x="{px(x):.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">{x:g}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 30}" font-size="11" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    for s, (name, values) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        values = sorted(values)
        upper = " ".join(f"{px(x):.1f},{py(high):.1f}" for x, _, _, high in values)
        lower = " ".join(f"{px(x):.1f},{py(low):.1f}" for x, _, low, _ in reversed(values))
        parts.append(f'<polygon class="band" points="{upper} {lower}" fill="{color}" fill-opacity="0.18"/>')
        line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _, _ in values)
        parts.append(
            f'<polyline class="line" points="{line}" fill="none" stroke="{color}" stroke-width="2"/>'
        )
        for x, y, low, high in values:
            parts.append(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"><title>{escape(name)} · '
                f"ε={x:g}: {_fmt(y)} ({_fmt(low)}–{_fmt(high)})</title></circle>"
            )
        row, col = divmod(s, 3)
        parts.append(
            f'<rect x="{left + 160 * col}" y="{height - 22 + 12 * row}" width="10" height="10" '
            f'fill="{color}"/>'
            f'<text x="{left + 14 + 160 * col}" y="{height - 13 + 12 * row}" font-size="11">'
            f"{escape(name if len(name) <= 24 else name[:23] + '…')}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}"
    return f"{value:.3f}"


def figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, sections: list[str]) -> str:
    """The whole HTML document."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>" + "".join(sections) + "</body></html>"
    )
