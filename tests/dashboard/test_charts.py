"""The usage chart's geometry (dashboard/charts.py)."""

import math
from datetime import date

import pytest

from dashboard.charts import bar_chart, nice_axis, nice_ceiling, share_bars


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (0.18, 0.2), (0.5, 0.5), (3, 3), (7.2, 8), (10, 10), (11, 15), (240, 250)],
)
def test_axis_tops_are_round(value, top):
    assert nice_ceiling(value) == pytest.approx(top)


@pytest.mark.parametrize(
    "value", [0, 0.0123, 0.18, 0.37, 0.5, 0.62, 1.88, 3, 7.2, 10, 11, 37, 240, 999, 12345]
)
def test_tick_steps_are_1_2_or_5_times_a_power_of_ten(value):
    top, step = nice_axis(value)
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    assert round(mantissa, 6) in (1, 2, 5), (value, step)
    assert (top >= value and top - step < value + 1e-9) or value == 0
    labels = [t.label for t in bar_chart([(date(2026, 3, 1), value)]).ticks]
    assert labels[0] == "0" and len(labels) <= 6
    # Every label is a whole multiple of the step: never 0.62 or 1.88 on the axis.
    for label in labels:
        assert float(label) / step == pytest.approx(round(float(label) / step))


def test_the_issue_s_ticks_are_gone():
    # 1.88 minutes in a day drew 0, 0.47, 0.94, 1.41, 1.88 (or 0.62, 1.25, 1.88 on a 2.5 top).
    labels = [t.label for t in bar_chart([(date(2026, 3, 1), 1.88)]).ticks]
    assert labels == ["0", "0.5", "1", "1.5", "2"]


def test_bars_are_proportional_and_inside_the_plot():
    points = [(date(2026, 3, day), value) for day, value in [(1, 0.0), (2, 2.5), (3, 5.0)]]
    chart = bar_chart(points)
    assert chart.maximum == 5
    plot_height = chart.plot_bottom - chart.plot_top
    heights = [bar.height for bar in chart.bars]
    assert heights == [0, pytest.approx(plot_height / 2), pytest.approx(plot_height)]
    for bar in chart.bars:
        assert chart.plot_left <= bar.x and bar.x + bar.width <= chart.plot_right
        assert bar.y + bar.height == pytest.approx(chart.plot_bottom)
    xs = [bar.x for bar in chart.bars]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert [t.label for t in chart.ticks] == ["0", "1", "2", "3", "4", "5"]
    assert not chart.is_empty and chart.total == 7.5


def test_a_month_gets_about_weekly_labels():
    points = [(date(2026, 1, day), 1.0) for day in range(1, 32)]
    labelled = [bar for bar in bar_chart(points).bars if bar.label]
    assert [bar.label for bar in labelled] == [
        "Jan 1", "Jan 5", "Jan 9", "Jan 13", "Jan 17", "Jan 21", "Jan 25", "Jan 29"
    ]  # fmt: skip
    # On a narrow screen every other one is hidden: Jan 1, 9, 17, 25 remain.
    assert [bar.label for bar in labelled if not bar.minor] == [
        "Jan 1",
        "Jan 9",
        "Jan 17",
        "Jan 25",
    ]


def test_an_empty_month():
    chart = bar_chart([(date(2026, 2, day), 0.0) for day in range(1, 29)])
    assert chart.is_empty and all(bar.height == 0 for bar in chart.bars)


def test_share_bars_scale_to_the_largest():
    class Group:
        def __init__(self, minutes):
            self.audio_minutes = minutes

    bars = share_bars([Group(4.0), Group(1.0), Group(0.0)])
    assert [b.percent for b in bars] == [100.0, 25.0, 0.0]
    assert [b.percent for b in share_bars([Group(0.0)])] == [0.0]
