"""Server-rendered SVG charts (no JavaScript, no CDN): pure functions, data in, markup out.

Every label goes through ``escape``; the output is safe to embed in a page or a PDF.
"""

from __future__ import annotations

from markupsafe import escape

_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            + "".join(body) + "</svg>")


def bar_chart(rows: list[tuple[str, int]], *, title: str, width: int = 560,
              color: str = "#1f5fae") -> str:
    """Horizontal bars, one per (label, value)."""
    bar_h, gap, left, right = 26, 8, 130, 50
    height = max(len(rows), 1) * (bar_h + gap) + 10
    top = max((v for _, v in rows), default=0) or 1
    body = []
    for i, (label, value) in enumerate(rows):
        y = 5 + i * (bar_h + gap)
        w = (width - left - right) * value / top
        body.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" {_FONT}>'
                    f'{escape(label)}</text>')
        body.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="4" '
                    f'fill="{color}"/>')
        body.append(f'<text x="{left + w + 6:.1f}" y="{y + 17}" {_FONT}>{value}</text>')
    return _svg(width, height, title, body)


def trend_chart(rows: list[tuple[str, int, int, int]], *, title: str, width: int = 640,
                height: int = 240) -> str:
    """Monthly raised (bars) and closed (line) counts: rows of (month, raised, closed, nc)."""
    left, bottom, top_pad, right = 36, 40, 16, 12
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    peak = max([max(r[1], r[2]) for r in rows] + [1])
    n = max(len(rows), 1)
    step = plot_w / n
    body = [f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - right}" '
            f'y2="{top_pad + plot_h}" stroke="#888"/>',
            f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end" {_FONT}>{peak}</text>',
            f'<text x="{left - 6}" y="{top_pad + plot_h}" text-anchor="end" {_FONT}>0</text>']
    points = []
    for i, (month, raised, closed, nc) in enumerate(rows):
        x = left + i * step
        h = plot_h * raised / peak
        hn = plot_h * nc / peak
        body.append(f'<rect x="{x + step * 0.15:.1f}" y="{top_pad + plot_h - h:.1f}" '
                    f'width="{step * 0.7:.1f}" height="{h:.1f}" fill="#9dbbe0"><title>'
                    f'{escape(month)}: {raised} raised, {nc} NCs, {closed} closed</title></rect>')
        body.append(f'<rect x="{x + step * 0.15:.1f}" y="{top_pad + plot_h - hn:.1f}" '
                    f'width="{step * 0.7:.1f}" height="{hn:.1f}" fill="#b3261e" opacity="0.7"/>')
        points.append(f"{x + step / 2:.1f},{top_pad + plot_h - plot_h * closed / peak:.1f}")
        if i % max(1, (n + 5) // 6) == 0:
            body.append(f'<text x="{x + step / 2:.1f}" y="{height - bottom + 16}" '
                        f'text-anchor="middle" {_FONT}>{escape(month)}</text>')
    if points:
        body.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#1d7a46" '
                    f'stroke-width="2.5"/>')
    legend_y = height - 8
    body.append(f'<rect x="{left}" y="{legend_y - 10}" width="12" height="12" fill="#9dbbe0"/>'
                f'<text x="{left + 16}" y="{legend_y}" {_FONT}>raised</text>'
                f'<rect x="{left + 70}" y="{legend_y - 10}" width="12" height="12" '
                f'fill="#b3261e" opacity="0.7"/><text x="{left + 86}" y="{legend_y}" {_FONT}>'
                f'of which NCs</text><line x1="{left + 180}" y1="{legend_y - 4}" '
                f'x2="{left + 196}" y2="{legend_y - 4}" stroke="#1d7a46" stroke-width="2.5"/>'
                f'<text x="{left + 200}" y="{legend_y}" {_FONT}>closed</text>')
    return _svg(width, height, title, body)


def heat_map(rows: list[tuple[str, str, int, int]], *, title: str, width: int = 560) -> str:
    """Clause rows (number, title, majors, minors); cell colour grows with the count."""
    row_h, left = 26, 250
    height = max(len(rows), 1) * row_h + 30
    peak = max([max(r[2], r[3]) for r in rows] + [1])
    col_w = (width - left) / 2
    body = [f'<text x="{left + col_w / 2:.0f}" y="16" text-anchor="middle" {_FONT}>Major</text>',
            f'<text x="{left + col_w * 1.5:.0f}" y="16" text-anchor="middle" {_FONT}>Minor</text>']
    for i, (number, clause_title, majors, minors) in enumerate(rows):
        y = 24 + i * row_h
        label = f"{number} {clause_title}"
        if len(label) > 36:
            label = label[:35] + "…"
        body.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" {_FONT}>'
                    f'{escape(label)}</text>')
        for j, value in enumerate((majors, minors)):
            alpha = 0.08 + 0.92 * value / peak if value else 0.03
            fill = "#b3261e" if j == 0 else "#a25b00"
            x = left + j * col_w
            body.append(f'<rect x="{x + 2:.1f}" y="{y}" width="{col_w - 4:.1f}" '
                        f'height="{row_h - 3}" fill="{fill}" fill-opacity="{alpha:.2f}"/>')
            body.append(f'<text x="{x + col_w / 2:.1f}" y="{y + 17}" text-anchor="middle" '
                        f'{_FONT}>{value}</text>')
    return _svg(width, height, title, body)
