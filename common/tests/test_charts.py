"""The shared SVG bar charts: what they draw is what they were given, and nothing unsafe."""

import re

import pytest

from common import charts
from common.testing.chart_reading import bars, table_cells

SERIES = (charts.Series("a", "Alpha"), charts.Series("b", "Beta"))
PLOT_HEIGHT = charts.HEIGHT - charts.TOP - charts.BOTTOM


def _chart(values, **options):
    return charts.BarChart(
        slug=options.pop("slug", "demo"),
        title=options.pop("title", "Demo chart"),
        description="Alpha and Beta per day.",
        category_label="Day",
        categories=[f"d{i}" for i in range(len(values))],
        series=SERIES,
        values=values,
        **options,
    )


@pytest.mark.parametrize("stacked", [False, True])
def test_each_bar_is_as_high_as_its_value_on_the_drawn_scale(stacked):
    values = [(3, 1), (0, 7), (12, 0)]

    html = charts.render(_chart(values, stacked=stacked))

    scale = int(re.search(r'data-scale-max="(\d+)"', html)[1])
    drawn = bars(html)
    expected = [
        (series.key, f"d{i}", value)
        for i, row in enumerate(values)
        for series, value in zip(SERIES, row, strict=True)
        if value
    ]
    assert [(b["series"], b["category"], b["value"]) for b in drawn] == expected
    for bar in drawn:
        assert bar["height"] == pytest.approx(PLOT_HEIGHT * bar["value"] / scale, abs=0.01)
    assert scale >= (max(map(sum, values)) if stacked else 12)
    cells = [(s.key, v) for row in values for s, v in zip(SERIES, row, strict=True)]
    assert table_cells(html) == cells


def test_stacked_bars_sit_on_each_other():
    html = charts.render(_chart([(4, 6)], stacked=True))

    alpha, beta = bars(html)
    assert beta["y"] + beta["height"] == pytest.approx(alpha["y"], abs=0.02)
    assert alpha["y"] + alpha["height"] == pytest.approx(charts.TOP + PLOT_HEIGHT, abs=0.02)


def test_the_picture_is_named_and_its_table_has_a_caption_and_headers():
    html = charts.render(_chart([(1, 2)], slug="sales"))

    assert re.search(r'<svg [^>]*role="img"[^>]*aria-labelledby="sales-title sales-desc"', html)
    assert '<title id="sales-title">Demo chart</title>' in html
    assert '<desc id="sales-desc">Alpha and Beta per day.</desc>' in html
    assert "<caption>Alpha and Beta per day.</caption>" in html
    assert '<th scope="col">Day</th><th scope="col">Alpha</th><th scope="col">Beta</th>' in html
    assert '<th scope="row">d0</th>' in html
    assert "style" not in html and "<script" not in html  # nothing for the CSP to refuse


def test_labels_are_escaped():
    html = charts.render(_chart([(1, 0)], title='<script>alert("x")</script>'))

    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_no_data_draws_a_sentence_not_empty_axes():
    html = charts.render(_chart([(0, 0), (0, 0)]), empty_message="Nothing sold yet.")

    assert "<svg" not in html and "<table" not in html
    assert "Nothing sold yet." in html and "Demo chart" in html


def test_values_are_formatted_in_the_tooltips_table_and_axis():
    html = charts.render(_chart([(1250, 0)], format_value=lambda cents: f"${cents / 100:.2f}"))

    assert "<title>d0, Alpha: $12.50</title>" in html
    assert '<td data-series="a" data-value="1250">$12.50</td>' in html


@pytest.mark.parametrize(
    "values", [[(1,)], [(1, 2, 3)], [(-1, 2)]], ids=["too few", "too many", "negative"]
)
def test_malformed_data_is_refused(values):
    with pytest.raises(ValueError):
        _chart(values)


@pytest.mark.parametrize(
    ("top", "ceiling"), [(0, 1), (1, 1), (7, 10), (11, 20), (230, 250), (9999, 10000)]
)
def test_the_scale_ends_on_a_round_number(top, ceiling):
    assert charts._nice_ceiling(top) == ceiling


@pytest.mark.parametrize(
    ("top", "ticks"),
    [(1, ["0", "1"]), (2, ["0", "1", "2"]), (5, ["0", "1", "2", "3", "4", "5"]),
     (1000, ["0", "250", "500", "750", "1000"]), (25, ["0", "5", "10", "15", "20", "25"])],
)  # fmt: skip
def test_the_value_axis_is_labelled_with_whole_steps(top, ticks):
    html = charts.render(_chart([(top, 0)]))

    assert (
        re.findall(r'<text class="chart-axis" [^>]*text-anchor="end">(\d+)</text>', html) == ticks
    )
