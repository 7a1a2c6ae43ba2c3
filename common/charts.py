"""Bar charts as inline SVG, drawn on the server, each with the same figures as a data table.

No JavaScript and nothing inline for the Content-Security-Policy to refuse: shapes carry only
geometry attributes and classes (``static/css/charts.css`` colours them), so no ``style``
attribute or element. The SVG is ``role="img"`` named by its ``<title>`` and ``<desc>``; the
table (caption, ``th scope``) is what a screen reader reads, and what a sighted visitor opens
for exact figures. Every bar states its series, category and value in ``data-`` attributes,
so tests (and people reading the source) can check the picture against the figures.

Imports no app: the affiliates dashboard and the ops page both draw with it.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 640
HEIGHT = 240
# Room for the value axis labels (left) and the category labels (bottom).
LEFT, RIGHT, TOP, BOTTOM = 76, 8, 12, 28


@dataclass(frozen=True)
class Series:
    # CSS class suffix: ``chart-bar-<key>`` colours the bars, ``chart-key-<key>`` the legend.
    key: str
    label: str


@dataclass(frozen=True)
class BarChart:
    """``values[i][j]``: series ``j`` in category ``i`` (non-negative integers)."""

    slug: str  # unique on the page: the ids of the title, description and table derive from it
    title: str
    description: str
    category_label: str  # the table's first column header, e.g. "Month"
    categories: Sequence[str]
    series: Sequence[Series]
    values: Sequence[Sequence[int]]
    stacked: bool = False
    format_value: Callable[[int], str] = field(default=str)
    # Show every n-th category label under the axis (all of them are in the table).
    label_every: int = 1

    def __post_init__(self) -> None:
        if len(self.values) != len(self.categories):
            raise ValueError("one row of values per category")
        if any(len(row) != len(self.series) for row in self.values):
            raise ValueError("one value per series in every row")
        if any(value < 0 for row in self.values for value in row):
            raise ValueError("bar charts draw non-negative values")

    @property
    def is_empty(self) -> bool:
        return not any(any(row) for row in self.values)


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 1
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (1, 2, 2.5, 5, 10):
        ceiling = int(step * magnitude)
        if ceiling >= value:
            return ceiling
    return magnitude * 10  # pragma: no cover - the loop always returns


def _grid_lines(maximum: int) -> int:
    """How many steps the value axis has: whole numbers on every line (1 → 0, 1)."""
    return next(lines for lines in (4, 5, 2, 1) if maximum % lines == 0)


def _scale_max(chart: BarChart) -> int:
    if chart.stacked:
        top = max((sum(row) for row in chart.values), default=0)
    else:
        top = max((max(row, default=0) for row in chart.values), default=0)
    return _nice_ceiling(top)


def _bars(chart: BarChart, maximum: int) -> list[tuple]:
    """(series key, category, value, x, y, width, height) of every non-zero bar, in pixels
    rounded to 0.01 (heights proportional to values)."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(chart.categories), 1)
    bar_width = slot * 0.7 if chart.stacked else slot * 0.8 / max(len(chart.series), 1)
    bars = []
    for i, (category, row) in enumerate(zip(chart.categories, chart.values, strict=True)):
        base = TOP + plot_height
        for j, (series, value) in enumerate(zip(chart.series, row, strict=True)):
            height = plot_height * value / maximum
            if chart.stacked:
                x = LEFT + i * slot + slot * 0.15
                y = base - height
                base = y
            else:
                x = LEFT + i * slot + slot * 0.1 + j * bar_width
                y = TOP + plot_height - height
            if value:
                bars.append((series.key, category, value, x, y, bar_width, height))
    return bars


def _svg(chart: BarChart) -> SafeString:
    maximum = _scale_max(chart)
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(chart.categories), 1)
    lines = _grid_lines(maximum)
    grid = format_html_join(
        "",
        '<line class="chart-grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="chart-axis" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (
                LEFT,
                WIDTH - RIGHT,
                f"{TOP + plot_height * (1 - n / lines):.2f}",
                f"{TOP + plot_height * (1 - n / lines):.2f}",
                LEFT - 6,
                f"{TOP + plot_height * (1 - n / lines) + 4:.2f}",
                chart.format_value(maximum * n // lines),
            )
            for n in range(lines + 1)
        ),
    )
    labels = format_html_join(
        "",
        '<text class="chart-axis" x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (f"{LEFT + (i + 0.5) * slot:.2f}", HEIGHT - 8, category)
            for i, category in enumerate(chart.categories)
            if i % chart.label_every == 0
        ),
    )
    labels_of = {series.key: series.label for series in chart.series}
    bars = format_html_join(
        "",
        '<rect class="chart-bar chart-bar-{}" data-series="{}" data-category="{}" '
        'data-value="{}" x="{}" y="{}" width="{}" height="{}">'
        "<title>{}, {}: {}</title></rect>",
        (
            (
                key,
                key,
                cat,
                value,
                *(f"{number:.2f}" for number in (x, y, w, h)),
                cat,
                labels_of[key],
                chart.format_value(value),
            )
            for key, cat, value, x, y, w, h in _bars(chart, maximum)
        ),
    )
    return format_html(
        '<svg class="chart-svg" viewBox="0 0 {} {}" preserveAspectRatio="xMinYMid meet" '
        'role="img" '
        'aria-labelledby="{}-title {}-desc" data-scale-max="{}" data-plot-height="{}">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}{}{}</svg>',
        WIDTH,
        HEIGHT,
        chart.slug,
        chart.slug,
        maximum,
        plot_height,
        chart.slug,
        chart.title,
        chart.slug,
        chart.description,
        grid,
        bars,
        labels,
    )


def _legend(chart: BarChart) -> SafeString:
    items = format_html_join(
        "",
        '<li><span class="chart-key chart-key-{}" aria-hidden="true"></span>{}</li>',
        ((series.key, series.label) for series in chart.series),
    )
    return format_html('<ul class="chart-legend">{}</ul>', items)


def _table(chart: BarChart) -> SafeString:
    head = format_html_join(
        "", '<th scope="col">{}</th>', ((series.label,) for series in chart.series)
    )
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th>{}</tr>',
        (
            (
                category,
                format_html_join(
                    "",
                    '<td data-series="{}" data-value="{}">{}</td>',
                    (
                        (series.key, value, chart.format_value(value))
                        for series, value in zip(chart.series, row, strict=True)
                    ),
                ),
            )
            for category, row in zip(chart.categories, chart.values, strict=True)
        ),
    )
    return format_html(
        '<details class="chart-table"><summary>{} as a table</summary>'
        '<div class="overflow-auto"><table class="data" id="{}-table">'
        '<caption>{}</caption><thead><tr><th scope="col">{}</th>{}</tr></thead>'
        "<tbody>{}</tbody></table></div></details>",
        chart.title,
        chart.slug,
        chart.description,
        chart.category_label,
        head,
        rows,
    )


def render(chart: BarChart, *, empty_message: str = "Nothing to show yet.") -> SafeString:
    """The chart, its legend and its data table in one ``<figure>``; with no data, a sentence
    instead of empty axes."""
    if chart.is_empty:
        return format_html(
            '<figure class="chart chart-empty" id="{}"><figcaption>{}</figcaption>'
            '<p class="muted">{}</p></figure>',
            chart.slug,
            chart.title,
            empty_message,
        )
    return format_html(
        '<figure class="chart" id="{}"><figcaption>{}</figcaption>{}{}{}</figure>',
        chart.slug,
        chart.title,
        _svg(chart),
        _legend(chart),
        _table(chart),
    )
