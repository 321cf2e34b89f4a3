"""The usage chart's geometry (transcriptions/charts.py)."""

from datetime import date

import pytest

from dashboard.charts import bar_chart, nice_ceiling


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (0.18, 0.2), (0.5, 0.5), (3, 5), (7.2, 10), (10, 10), (11, 20), (240, 250)],
)
def test_axis_tops_are_round(value, top):
    assert nice_ceiling(value) == pytest.approx(top)


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
    assert [t.label for t in chart.ticks] == ["0", "1.25", "2.5", "3.75", "5"]
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
