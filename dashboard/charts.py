"""A bar chart as SVG geometry, computed on the server: no chart library, no script, no CDN.

The template draws the rectangles and labels; this module only does the arithmetic of where
they go, so it can be tested without a browser.
"""

import math
from dataclasses import dataclass
from datetime import date

WIDTH = 720
HEIGHT = 240
MARGIN_LEFT = 60
MARGIN_RIGHT = 12
MARGIN_TOP = 12
MARGIN_BOTTOM = 28
GAP = 0.2  # share of each slot left empty between bars


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    value: float
    label: str  # x-axis label, blank for days between labelled ones
    minor: bool = False  # every other label: hidden on a narrow screen, where they would touch


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: list[Bar]
    ticks: list[Tick]
    maximum: float
    total: float

    @property
    def is_empty(self) -> bool:
        return self.total == 0

    @property
    def center_x(self) -> float:
        return (self.plot_left + self.plot_right) / 2

    @property
    def center_y(self) -> float:
        return (self.plot_top + self.plot_bottom) / 2


def nice_step(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value`: a tick step that
    people read at a glance (0.5, 1, 2, 5, 10, ...; never 0.62 or 1.25)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power


def nice_axis(maximum: float, *, ticks: int = 5) -> tuple[float, float]:
    """(axis top, tick step) for data up to `maximum`: the finest step of 1, 2 or 5 x 10^n
    that covers the data in at most `ticks` steps, and a top that is a whole number of them
    (3 -> 0, 1, 2, 3; 7.2 -> 0, 2, 4, 6, 8; 240 -> 0, 50, ..., 250)."""
    maximum = maximum if maximum > 0 else 1.0  # an empty chart still gets an axis
    step = nice_step(maximum / ticks)
    # Rounded: 3 x 0.2 is 0.6000000000000001 in floating point.
    return round(step * math.ceil(maximum / step - 1e-9), 10), step


def nice_ceiling(value: float) -> float:
    """The top of an axis for data up to `value` (a whole number of nice steps)."""
    return nice_axis(value)[0]


def _format(value: float) -> str:
    return f"{round(value, 6):g}"


def bar_chart(points: list[tuple[date, float]], *, ticks: int = 5) -> BarChart:
    """Geometry for one bar per (day, value), on an axis from 0 to a round maximum."""
    plot_left, plot_right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    plot_top, plot_bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    plot_height = plot_bottom - plot_top
    maximum, step = nice_axis(max((v for _, v in points), default=0), ticks=ticks)
    slot = (plot_right - plot_left) / max(1, len(points))
    # Label about every week so that 31 days of labels never overlap on a narrow chart.
    label_every = max(1, math.ceil(len(points) / 8))
    bars = []
    for index, (day, value) in enumerate(points):
        height = plot_height * value / maximum
        bars.append(
            Bar(
                x=round(plot_left + index * slot + slot * GAP / 2, 2),
                y=round(plot_bottom - height, 2),
                width=round(slot * (1 - GAP), 2),
                height=round(height, 2),
                day=day,
                value=value,
                label=day.strftime("%b %-d") if index % label_every == 0 else "",
                minor=index % (2 * label_every) != 0,
            )
        )
    steps = round(maximum / step)
    tick_marks = [
        Tick(y=round(plot_bottom - plot_height * i / steps, 2), label=_format(step * i))
        for i in range(steps + 1)
    ]
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        bars=bars,
        ticks=tick_marks,
        maximum=maximum,
        total=sum(v for _, v in points),
    )


@dataclass(frozen=True)
class ShareBar:
    """One row of a horizontal bar chart: a group and its bar's length in % of the largest."""

    group: object
    value: float
    percent: float


def share_bars(groups: list, *, value: str = "audio_minutes") -> list[ShareBar]:
    """Horizontal bars for a breakdown (by key, by model): each group's `value` as a share of
    the largest one, so the longest bar fills the row."""
    values = [float(getattr(group, value)) for group in groups]
    largest = max(values, default=0)
    return [
        ShareBar(group=g, value=v, percent=round(100 * v / largest, 1) if largest else 0.0)
        for g, v in zip(groups, values, strict=True)
    ]
