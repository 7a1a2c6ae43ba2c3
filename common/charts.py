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

from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

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


class _Escaped:
    """The chart's texts escaped once each (``conditional_escape``, as ``format_html`` would):
    a chart repeats its few categories, series and values in hundreds of places."""

    def __init__(self, chart: BarChart) -> None:
        self.chart = chart
        self.categories = [conditional_escape(category) for category in chart.categories]
        self.series_keys = [conditional_escape(series.key) for series in chart.series]
        self.series_labels = [conditional_escape(series.label) for series in chart.series]
        self._values: dict[int, str] = {}

    def value(self, value: int) -> str:
        """``format_value(value)``, escaped (a value repeats: zeros, equal amounts)."""
        text = self._values.get(value)
        if text is None:
            text = self._values[value] = conditional_escape(self.chart.format_value(value))
        return text


def _svg(chart: BarChart, escaped: _Escaped) -> str:
    maximum = _scale_max(chart)
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(chart.categories), 1)
    lines = _grid_lines(maximum)
    slug = conditional_escape(chart.slug)
    parts = [
        f'<svg class="chart-svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'preserveAspectRatio="xMinYMid meet" role="img" '
        f'aria-labelledby="{slug}-title {slug}-desc" data-scale-max="{maximum}" '
        f'data-plot-height="{plot_height}">'
        f'<title id="{slug}-title">{conditional_escape(chart.title)}</title>'
        f'<desc id="{slug}-desc">{conditional_escape(chart.description)}</desc>'
    ]
    for n in range(lines + 1):
        y = TOP + plot_height * (1 - n / lines)
        parts.append(
            f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.2f}" '
            f'y2="{y:.2f}"/><text class="chart-axis" x="{LEFT - 6}" y="{y + 4:.2f}" '
            f'text-anchor="end">{escaped.value(maximum * n // lines)}</text>'
        )
    index_of = {series.key: j for j, series in enumerate(chart.series)}
    category_index = {category: i for i, category in enumerate(chart.categories)}
    for key, category, value, x, y, w, h in _bars(chart, maximum):
        j, cat = index_of[key], escaped.categories[category_index[category]]
        parts.append(
            f'<rect class="chart-bar chart-bar-{escaped.series_keys[j]}" '
            f'data-series="{escaped.series_keys[j]}" data-category="{cat}" '
            f'data-value="{value}" x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}">'
            f"<title>{cat}, {escaped.series_labels[j]}: {escaped.value(value)}</title></rect>"
        )
    for i, category in enumerate(escaped.categories):
        if i % chart.label_every == 0:
            parts.append(
                f'<text class="chart-axis" x="{LEFT + (i + 0.5) * slot:.2f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{category}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _legend(escaped: _Escaped) -> str:
    items = "".join(
        f'<li><span class="chart-key chart-key-{key}" aria-hidden="true"></span>{label}</li>'
        for key, label in zip(escaped.series_keys, escaped.series_labels, strict=True)
    )
    return f'<ul class="chart-legend">{items}</ul>'


def _table(chart: BarChart, escaped: _Escaped) -> str:
    head = "".join(f'<th scope="col">{label}</th>' for label in escaped.series_labels)
    rows = "".join(
        f'<tr><th scope="row">{category}</th>'
        + "".join(
            f'<td data-series="{key}" data-value="{value}">{escaped.value(value)}</td>'
            for key, value in zip(escaped.series_keys, row, strict=True)
        )
        + "</tr>"
        for category, row in zip(escaped.categories, chart.values, strict=True)
    )
    title, slug = conditional_escape(chart.title), conditional_escape(chart.slug)
    return (
        f'<details class="chart-table"><summary>{title} as a table</summary>'
        f'<div class="overflow-auto"><table class="data" id="{slug}-table">'
        f"<caption>{conditional_escape(chart.description)}</caption><thead><tr>"
        f'<th scope="col">{conditional_escape(chart.category_label)}</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div></details>"
    )


def render(chart: BarChart, *, empty_message: str = "Nothing to show yet.") -> SafeString:
    """The chart, its legend and its data table in one ``<figure>``; with no data, a sentence
    instead of empty axes.

    Built with f-strings over texts escaped once each (``_Escaped``), not ``format_html`` per
    element: the same markup at a fraction of the cost (the dashboard draws its charts again
    after every sale)."""
    if chart.is_empty:
        return format_html(
            '<figure class="chart chart-empty" id="{}"><figcaption>{}</figcaption>'
            '<p class="muted">{}</p></figure>',
            chart.slug,
            chart.title,
            empty_message,
        )
    escaped = _Escaped(chart)
    return mark_safe(  # noqa: S308 - every text in it went through conditional_escape
        f'<figure class="chart" id="{conditional_escape(chart.slug)}">'
        f"<figcaption>{conditional_escape(chart.title)}</figcaption>"
        f"{_svg(chart, escaped)}{_legend(escaped)}{_table(chart, escaped)}</figure>"
    )
