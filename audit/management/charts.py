"""A small server-side SVG chart of measurements against a target (no JavaScript, PDF-safe)."""

from __future__ import annotations

from decimal import Decimal

from markupsafe import Markup, escape

_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def target_chart(points: list[tuple[str, Decimal]], target: Decimal, *, title: str, unit: str,
                 width: int = 560, height: int = 200) -> Markup:
    """Values as a line with dots, the target as a dashed line; labels every few points."""
    left, right, top, bottom = 48, 12, 14, 34
    values = [float(v) for _, v in points] + [float(target)]
    low, high = min(values), max(values)
    if high == low:
        high, low = high + 1, low - 1
    pad = (high - low) * 0.1
    low, high = low - pad, high + pad
    plot_w, plot_h = width - left - right, height - top - bottom

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    def x(i: int) -> float:
        return left + (plot_w * i / (len(points) - 1) if len(points) > 1 else plot_w / 2)

    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#888"/>',
            f'<text x="{left - 6}" y="{y(high - pad) + 4:.1f}" text-anchor="end" {_FONT}>{high - pad:g}</text>',
            f'<text x="{left - 6}" y="{y(low + pad) + 4:.1f}" text-anchor="end" {_FONT}>{low + pad:g}</text>',
            f'<line x1="{left}" y1="{y(float(target)):.1f}" x2="{width - right}" y2="{y(float(target)):.1f}" '
            f'stroke="#b3261e" stroke-dasharray="6 4"/>',
            f'<text x="{width - right}" y="{y(float(target)) - 4:.1f}" text-anchor="end" fill="#b3261e" '
            f'{_FONT}>target {float(target):g} {escape(unit)}</text>']
    if points:
        path = " ".join(f"{x(i):.1f},{y(float(v)):.1f}" for i, (_, v) in enumerate(points))
        body.append(f'<polyline points="{path}" fill="none" stroke="#1f5fae" stroke-width="2"/>')
        step = max(1, len(points) // 6)
        for i, (label, v) in enumerate(points):
            body.append(f'<circle cx="{x(i):.1f}" cy="{y(float(v)):.1f}" r="3" fill="#1f5fae">'
                        f'<title>{escape(label)}: {float(v):g} {escape(unit)}</title></circle>')
            if i % step == 0 or i == len(points) - 1:
                body.append(f'<text x="{x(i):.1f}" y="{height - 12}" text-anchor="middle" {_FONT}>'
                            f'{escape(label)}</text>')
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
                  f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
                  + "".join(body) + "</svg>")
