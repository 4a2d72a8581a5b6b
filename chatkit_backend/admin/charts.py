"""Charts as inline SVG, drawn on the server: no CDN, no JavaScript, readable without styles.

Every label goes through ``format_html`` (model names and usernames are data, not markup).
Each bar carries a ``<title>`` (the browser's tooltip) with its exact figure, and each chart a
total, so the numbers are there for people and tests alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#417690", "#e0a040", "#79aec8", "#b84a4a", "#5a9a5a", "#8a6bb8", "#999999")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 760, 240, 56, 28, 16


@dataclass(frozen=True)
class Series:
    name: str
    values: dict[date, int]


def _f(value: float) -> str:
    """A coordinate (format_html escapes its arguments, so numbers arrive as text)."""
    return f"{value:.1f}"


def _number(value: int) -> str:
    return f"{value:,}"


def _scale(top: int) -> int:
    """A round axis maximum at or above ``top``."""
    if top <= 0:
        return 1
    magnitude = 10 ** (len(str(top)) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= top:
            return step * magnitude
    return 10 * magnitude


def _segment(x: float, y: float, bar: float, height: float, color: str, tip: str) -> SafeString:
    return format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        _f(x),
        _f(y),
        _f(bar),
        _f(height),
        color,
        tip,
    )


def _day_columns(
    unit: str, days: Sequence[date], series: Sequence[Series], top: int
) -> list[SafeString]:
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1)
    shapes = []
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar) / 2
        y = TOP + plot_h
        for number, one in enumerate(series):
            value = one.values.get(day, 0)
            if value:
                height = plot_h * value / top
                y -= height
                tip = f"{day.isoformat()} · {one.name}: {_number(value)} {unit}"
                shapes.append(_segment(x, y, bar, height, PALETTE[number % len(PALETTE)], tip))
        if len(days) <= 16 or index % max(len(days) // 8, 1) == 0:
            shapes.append(
                format_html(
                    '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
                    _f(x + bar / 2),
                    HEIGHT - 10,
                    day.strftime("%m-%d"),
                )
            )
    return shapes


def _axis(top: int) -> SafeString:
    base = HEIGHT - BOTTOM
    return format_html(
        '<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">0</text>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>',
        LEFT - 4,
        TOP + 8,
        _number(top),
        LEFT - 4,
        base,
        LEFT,
        base,
        WIDTH - 8,
        base,
    )


def _figure(title: str, unit: str, total: int, height: int, body: SafeString) -> SafeString:
    return format_html(
        '<figure class="ck-chart"><figcaption><strong>{}</strong> · '
        '<span class="ck-total" data-total="{}">total {} {}</span></figcaption>'
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {} {}" width="100%" '
        'style="max-width:{}px"><title>{}: total {} {}</title>{}</svg>',
        title,
        total,
        _number(total),
        unit,
        WIDTH,
        height,
        WIDTH,
        title,
        _number(total),
        unit,
        body,
    )


def stacked_bars(
    title: str, unit: str, days: Sequence[date], series: Sequence[Series]
) -> SafeString:
    """Bars per day, one stacked segment per series (a model), with a legend and a total."""
    totals = [sum(s.values.get(day, 0) for s in series) for day in days]
    top = _scale(max(totals, default=0))
    shapes = _day_columns(unit, days, series, top)
    legend = format_html_join(
        "",
        '<span class="ck-legend"><i style="background:{}"></i>{}: {}</span>',
        (
            (PALETTE[n % len(PALETTE)], s.name or "(unknown)", _number(sum(s.values.values())))
            for n, s in enumerate(series)
        ),
    )
    body = format_html("{}{}", _axis(top), mark_safe("".join(shapes)))
    return format_html(
        "{}<div>{}</div></figure>", _figure(title, unit, sum(totals), HEIGHT, body), legend
    )


def horizontal_bars(
    title: str, unit: str, rows: Sequence[tuple[str, int]], limit: int | None = None
) -> SafeString:
    """One bar per row (label, value), longest first; ``limit`` draws a budget line."""
    row_h, label_w = 24, 180
    height = TOP + row_h * max(len(rows), 1) + 8
    top = _scale(max([value for _, value in rows] + [limit or 0], default=0))
    plot_w = WIDTH - label_w - 90
    shapes = []
    for index, (label, value) in enumerate(rows):
        y = TOP + index * row_h
        width = plot_w * value / top
        shapes.append(
            format_html(
                '<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {}</title>'
                '</rect><text x="{}" y="{}" font-size="11">{}</text>',
                label_w - 6,
                y + 15,
                label[:28],
                label_w,
                y + 3,
                _f(width),
                row_h - 6,
                PALETTE[0] if limit is None or value < limit else PALETTE[3],
                label,
                _number(value),
                unit,
                _f(label_w + width + 4),
                y + 15,
                _number(value),
            )
        )
    if limit:
        x = label_w + plot_w * limit / top
        shapes.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#b84a4a" '
                'stroke-dasharray="4 3"><title>budget: {} {}</title></line>',
                _f(x),
                TOP - 6,
                _f(x),
                height - 4,
                _number(limit),
                unit,
            )
        )
    total = sum(value for _, value in rows)
    empty = format_html('<text x="{}" y="{}" font-size="12">No usage yet.</text>', LEFT, TOP + 12)
    body = mark_safe("".join(shapes)) if rows else empty
    return format_html("{}</figure>", _figure(title, unit, total, height, body))
