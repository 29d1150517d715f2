"""Small charts drawn on the server as SVG geometry (no chart library, no script).

Functions return numbers and labels; the templates under ``charts/`` draw them, so
every text in a chart is escaped like any other template value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class LineChart:
    width: int
    height: int
    points: str  # "x,y x,y ..." for <polyline>
    bars: list[tuple[float, float, float, float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_max: int = 0
    total: int = 0
    empty: bool = True


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def enrolment_chart(
    per_day: list[tuple[date, int]], width: int = 320, height: int = 120, pad: int = 22
) -> LineChart:
    """Cumulative enrolment by month (line) over new enrolments per month (bars)."""
    if not per_day:
        return LineChart(width, height, "")
    months: dict[date, int] = {}
    for day, n in per_day:
        months[month_start(day)] = months.get(month_start(day), 0) + n
    first, last = min(months), max(months)
    series: list[tuple[date, int]] = []
    month = first
    while month <= last:
        series.append((month, months.get(month, 0)))
        month = next_month(month)
    total = sum(n for _, n in series)
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    step = inner_w / max(len(series), 1)

    def y(value: float) -> float:
        return round(pad + inner_h - inner_h * value / max(total, 1), 1)

    points, bars, running = [], [], 0
    for index, (month, n) in enumerate(series):
        running += n
        x = round(pad + step * index + step / 2, 1)
        points.append(f"{x},{y(running)}")
        top = y(n)
        bars.append(
            (
                round(pad + step * index + step * 0.15, 1),
                top,
                round(step * 0.7, 1),
                round(pad + inner_h - top, 1),
                f"{month:%Y-%m}: {n}",
            )
        )
    labels = [(round(pad + step / 2, 1), f"{first:%Y-%m}")]
    if last != first:
        labels.append((round(pad + step * (len(series) - 0.5), 1), f"{last:%Y-%m}"))
    return LineChart(width, height, " ".join(points), bars, labels, total, total, empty=False)
