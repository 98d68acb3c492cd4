"""The dashboard's charts, drawn on the server as SVG: no script, nothing to load.

Each chart is an image to assistive technology (role="img") named by its own <title> and
summarised by its <desc>; the page puts the same numbers in a table right below it. Colours are
GOV.UK palette colours with at least 3:1 contrast on white (WCAG 1.4.11), and no meaning rests
on colour alone: the lines and bars differ in shape and every series is named in a legend, and
factor bars say push or pull in their labels. Presentation attributes, not style attributes, so
the Content-Security-Policy (no inline styles) holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from webapp.oversight.factors import KIND_LABELS, PULL, PUSH
from webapp.oversight.figures import Month, Row

BLUE = "#1d70b8"  # 5.2:1 on white
PURPLE = "#4c2c92"  # 10.5:1
GREY = "#505a5f"  # 7:1
BLACK = "#0b0c0c"
RED = "#d4351c"  # 4.5:1
GRID = "#b1b4b6"  # gridlines only: decoration, the labels carry the values
FONT = 'font-family="GDS Transport, arial, sans-serif"'
KIND_COLOURS = {PUSH: BLUE, PULL: PURPLE}


def _nice_max(value: int) -> int:
    """A round top for the axis at or above `value` (at least 4, so four gridlines)."""
    if value <= 4:
        return 4
    step = 1
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 2.5, 5, 10):
        top = int(step * factor)
        if top >= value and top % 4 == 0:
            return top
    return (value + 3) // 4 * 4


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, body: list[str]):
    # Every text in it went through escape() (_text, title, desc); the rest is our own numbers.
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hw-chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" {FONT}>'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, size: int = 12, anchor: str = "start", **attrs) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{BLACK}" '
        f'text-anchor="{anchor}"{extra}>{escape(text)}</text>'
    )


def _month_label(month: Month, first: bool) -> str:
    day = month.period.first_day
    return f"{day:%b}" + (f" {day:%y}" if first or day.month == 1 else "")


def trend_chart(months: Sequence[Month], chart_id: str = "trend") -> Markup:
    """Episodes per month as bars, children per month as a line with points."""
    width, height = 640, 300
    left, right, top, bottom = 44, 12, 40, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((m.episodes for m in months), default=0))
    slot = plot_w / max(len(months), 1)

    def y(value: int) -> float:
        return top + plot_h - plot_h * value / top_value

    body = []
    for tick in range(5):
        value = top_value * tick // 4
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(_text(left - 6, y(value) + 4, str(value), 11, "end"))
    points = []
    for n, month in enumerate(months):
        x = left + slot * n
        bar_h = plot_h * month.episodes / top_value
        body.append(
            f'<rect x="{x + slot * 0.2:.1f}" y="{y(month.episodes):.1f}" '
            f'width="{slot * 0.6:.1f}" height="{bar_h:.1f}" fill="{BLUE}"/>'
        )
        body.append(
            _text(x + slot / 2, height - bottom + 16, _month_label(month, n == 0), 11, "middle")
        )
        points.append((x + slot / 2, y(month.children)))
    if points:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{BLACK}" stroke-width="2"/>')
        body += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="#ffffff" stroke="{BLACK}" '
            'stroke-width="2"/>'
            for px, py in points
        ]
    # The legend: a bar for episodes, a line with a point for children.
    body.append(f'<rect x="{left}" y="10" width="14" height="14" fill="{BLUE}"/>')
    body.append(_text(left + 20, 22, "Episodes"))
    body.append(
        f'<line x1="{left + 110}" x2="{left + 134}" y1="17" y2="17" stroke="{BLACK}" '
        'stroke-width="2"/>'
        f'<circle cx="{left + 122}" cy="17" r="4" fill="#ffffff" stroke="{BLACK}" '
        'stroke-width="2"/>'
    )
    body.append(_text(left + 140, 22, "Children"))
    if months:
        busiest = max(months, key=lambda m: m.episodes)
        desc = (
            f"Episodes and children per month, {months[0].period.label} to "
            f"{months[-1].period.label}: {sum(m.episodes for m in months)} episodes in all; "
            f"the most in {busiest.period.label} ({busiest.episodes} episodes, "
            f"{busiest.children} children). The table below has every month."
        )
    else:
        desc = "No months to show."
    return _svg(chart_id, width, height, "Episodes and children per month", desc, body)


def _percent(share: float | None) -> str:
    return "none held" if share is None else f"{round(share * 100)}%"


def timeliness_chart(months: Sequence[Month], national: float, chart_id: str = "timeliness"):
    """The share of interviews held within 72 hours per month, as bars, with the national
    figure as a dashed line across them."""
    width, height = 640, 300
    left, right, top, bottom = 44, 12, 40, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(months), 1)

    def y(share: float) -> float:
        return top + plot_h - plot_h * share

    body = []
    for tick in range(5):
        share = tick / 4
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(share):.1f}" y2="{y(share):.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(_text(left - 6, y(share) + 4, f"{tick * 25}%", 11, "end"))
    for n, month in enumerate(months):
        x = left + slot * n
        if month.share is not None:
            body.append(
                f'<rect x="{x + slot * 0.2:.1f}" y="{y(month.share):.1f}" '
                f'width="{slot * 0.6:.1f}" height="{plot_h * month.share:.1f}" fill="{BLUE}"/>'
            )
        else:
            body.append(_text(x + slot / 2, y(0) - 4, "–", 11, "middle"))
        body.append(
            _text(x + slot / 2, height - bottom + 16, _month_label(month, n == 0), 11, "middle")
        )
    body.append(
        f'<line x1="{left}" x2="{width - right}" y1="{y(national):.1f}" y2="{y(national):.1f}" '
        f'stroke="{RED}" stroke-width="3" stroke-dasharray="8 5"/>'
    )
    body.append(f'<rect x="{left}" y="10" width="14" height="14" fill="{BLUE}"/>')
    body.append(_text(left + 20, 22, "Held within 72 hours"))
    body.append(
        f'<line x1="{left + 180}" x2="{left + 210}" y1="17" y2="17" stroke="{RED}" '
        'stroke-width="3" stroke-dasharray="8 5"/>'
    )
    body.append(_text(left + 216, 22, f"National average {round(national * 100)}%"))
    measured = [m for m in months if m.share is not None]
    if measured:
        above = sum(1 for m in measured if m.share >= national)
        desc = (
            f"Share of return interviews held within 72 hours, per month, against the national "
            f"average of {round(national * 100)}%: at or above it in {above} of the "
            f"{len(measured)} months with interviews held; latest "
            f"{measured[-1].period.label} {_percent(measured[-1].share)}. "
            "The table below has every month."
        )
    else:
        desc = "No return interviews were held in these months."
    return _svg(chart_id, width, height, "Return interviews held within 72 hours", desc, body)


def factor_label(row: Row) -> str:
    return f"{row.label} ({KIND_LABELS[row.kind].lower()})"


def factors_chart(rows: Sequence[Row], chart_id: str = "factors") -> Markup:
    """The reasons children gave, as horizontal bars, most given first."""
    shown = [r for r in rows if r.count]
    bar_h, gap, label_w, left_pad = 20, 10, 330, 8
    width = 640
    height = max(len(shown), 1) * (bar_h + gap) + 20
    top_value = max((r.count for r in shown), default=1)
    plot_w = width - label_w - left_pad - 40
    body = []
    for n, row in enumerate(shown):
        y = 10 + n * (bar_h + gap)
        length = max(plot_w * row.count / top_value, 2)
        body.append(_text(label_w, y + 15, factor_label(row), 12, "end"))
        body.append(
            f'<rect x="{label_w + left_pad}" y="{y}" width="{length:.1f}" height="{bar_h}" '
            f'fill="{KIND_COLOURS.get(row.kind, GREY)}"/>'
        )
        body.append(_text(label_w + left_pad + length + 6, y + 15, str(row.count)))
    if not shown:
        body.append(_text(10, 25, "No reasons recorded in these interviews."))
        desc = "No reasons recorded in the period's return interviews."
    else:
        push = sum(r.count for r in shown if r.kind == PUSH)
        pull = sum(r.count for r in shown if r.kind == PULL)
        desc = (
            f"Reasons children gave in return interviews, most given first: "
            f"{factor_label(shown[0])}, {shown[0].count} interviews. Push factors were given "
            f"{push} times, pull factors {pull} times. The table below has every reason."
        )
    return _svg(chart_id, width, height, "Push and pull factors children gave", desc, body)
