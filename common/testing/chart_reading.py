"""Reading a rendered chart back from a page, for the tests of every page that draws one."""

import re


def figure(html: str, slug: str) -> str:
    """The ``<figure>`` of the chart ``slug`` on the page."""
    match = re.search(rf'<figure class="chart[^"]*" id="{slug}">.*?</figure>', html, re.S)
    assert match, f"no chart {slug}"
    return match[0]


def bars(html: str) -> list[dict]:
    """Every bar as drawn: its data attributes and geometry."""
    found = []
    for tag in re.findall(r"<rect [^>]*>", html):
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        found.append(
            {
                "series": attributes["data-series"],
                "category": attributes["data-category"],
                "value": int(attributes["data-value"]),
                "y": float(attributes["y"]),
                "height": float(attributes["height"]),
            }
        )
    return found


def table_cells(html: str) -> list[tuple[str, int]]:
    return [
        (s, int(v)) for s, v in re.findall(r'<td data-series="(\w+)" data-value="(\d+)">', html)
    ]


def drawn(figure_html: str) -> dict[tuple[str, str], int]:
    """(category, series) → value of every bar drawn."""
    return {(bar["category"], bar["series"]): bar["value"] for bar in bars(figure_html)}


def tabled(figure_html: str) -> dict[tuple[str, str], int]:
    """(row header, series) → value, from the chart's data table."""
    found = {}
    for header, cells in re.findall(r'<tr><th scope="row">([^<]*)</th>(.*?)</tr>', figure_html):
        for series, value in table_cells(cells):
            found[(header, series)] = value
    return found
