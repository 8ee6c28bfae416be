"""The dashboard's charts, drawn on the server as SVG by pygal (a charting library, not hand-drawn paths).

Each chart is served as its own SVG document and shown with ``<img>``: pygal styles its charts
with a ``<style>`` element, which the pages' Content-Security-Policy would refuse inline, and an
image cannot run scripts (pygal's scripts are taken out all the same).  The numbers are in the
table beside each chart; the chart's ``alt`` text points there.
"""

from __future__ import annotations

import pygal
from lxml import etree
from pygal.style import Style

# A palette told apart by people with the common colour-vision deficiencies (Okabe and Ito), on white.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#22242a",
    foreground_strong="#22242a",
    foreground_subtle="#6b7280",
    colors=COLOURS,
    font_family="Arial, Helvetica, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    title_font_size=15,
)
OPTIONS = {
    "style": STYLE,
    "js": [],  # no script: the chart is an image
    "disable_xml_declaration": True,
    "width": 720,
    "height": 400,
    "legend_at_bottom": True,
    "legend_at_bottom_columns": 4,
    "truncate_legend": 30,
    "print_values": False,
    "show_minor_x_labels": False,
    "x_label_rotation": 30,
    "margin": 16,
    "margin_bottom": 40,  # room for the legend under the turned day labels
}


def stacked_bars(title: str, labels: list[str], series: list[tuple[str, list[int]]]) -> str:
    chart = pygal.StackedBar(title=title, **OPTIONS)
    chart.x_labels = labels
    chart.x_labels_major_every = max(1, len(labels) // 10)
    for name, values in series:
        chart.add(name, values)
    if not series:
        chart.add("", [0] * len(labels))
    return _without_scripts(chart)


def line(title: str, labels: list[str], series: list[tuple[str, list[int]]]) -> str:
    chart = pygal.Line(title=title, fill=False, dots_size=2, **OPTIONS)
    chart.x_labels = labels
    chart.x_labels_major_every = max(1, len(labels) // 10)
    for name, values in series:
        chart.add(name, values)
    return _without_scripts(chart)


def bars(title: str, labels: list[str], series: list[tuple[str, list[float | None]]], percent: bool = False) -> str:
    options = {**OPTIONS, "x_label_rotation": 0}
    chart = pygal.Bar(title=title, **options)
    if percent:
        chart.range = (0, 100)
        chart.value_formatter = lambda value: f"{value:.0f} %"
    chart.x_labels = labels
    for name, values in series:
        chart.add(name, values)
    return _without_scripts(chart)


def _without_scripts(chart) -> str:
    tree = chart.render_tree()
    for script in tree.findall(".//{*}script"):
        script.getparent().remove(script)
    return etree.tostring(tree, encoding="unicode")
