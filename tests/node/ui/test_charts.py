"""Inline SVG charts: the month timeline (issue 18, "Time") and the colours they use."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

from clearinghouse.node.ui.charts import (
    SERIES_COLOURS,
    bar_chart,
    contrast_ratio,
    months_between,
    timeline,
)

SVG = "{http://www.w3.org/2000/svg}"
ALEPPO = {"2016-01": 10, "2016-04": 30, "2016-08": 123, "2016-09": 40}
IDLIB = {"2016-02": 5, "2016-08": 7}


def _axis_ticks(root: ET.Element) -> list[ET.Element]:
    (axis,) = [g for g in root.iter(f"{SVG}g") if g.get("class") == "x-axis"]
    return list(axis.iter(f"{SVG}line"))


def _points(line: ET.Element) -> list[tuple[float, float]]:
    pairs = (p.split(",") for p in line.get("points", "").split())
    return [(float(x), float(y)) for x, y in pairs]


def test_months_between_counts_every_month_both_ends_included() -> None:
    assert months_between("2016-11", "2017-02") == ["2016-11", "2016-12", "2017-01", "2017-02"]
    assert months_between("2016-05", "2016-05") == ["2016-05"]
    assert months_between("2017-01", "2016-12") == []
    assert len(months_between("2016-01", "2019-12")) == 48


@pytest.mark.parametrize("bad", ["2016-13", "2016-00", "2016-1", "16-01", "2016-01-01", ""])
def test_a_key_that_is_not_a_month_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a month"):
        months_between(bad, "2020-01")
    with pytest.raises(ValueError, match="not a month"):
        timeline({"x": {bad: 1}}, title="t", y_label="events")


def test_every_month_is_on_the_axis_and_gaps_are_drawn_at_zero() -> None:
    root = ET.fromstring(timeline({"Aleppo": ALEPPO}, title="t", y_label="events"))
    assert len(_axis_ticks(root)) == 9  # 2016-01 .. 2016-09
    (line,) = root.iter(f"{SVG}polyline")
    points = _points(line)
    assert len(points) == 9
    baseline = max(y for _, y in points)
    # February, March, May, June and July had nothing: down to 0, not bridged.
    assert [y == baseline for _, y in points] == [
        False, True, True, False, True, True, True, False, False,
    ]  # fmt: skip
    xs = [x for x, _ in points]
    steps = {round(b - a, 1) for a, b in itertools.pairwise(xs)}
    assert len(steps) == 1  # evenly spaced months


def test_first_and_last_set_the_axis() -> None:
    markup = timeline(
        {"Aleppo": ALEPPO}, title="t", y_label="events", first="2015-12", last="2016-06"
    )
    root = ET.fromstring(markup)
    assert len(_axis_ticks(root)) == 7
    (line,) = root.iter(f"{SVG}polyline")
    assert len(_points(line)) == 7  # August, outside the axis, is left out
    assert "2015-12 to 2016-06" in (root.findtext(f"{SVG}desc") or "")


def test_tick_labels_are_thinned_on_long_axes_but_every_month_has_a_tick() -> None:
    series = {"a": {m: 1 for m in months_between("2010-01", "2019-12")}}
    root = ET.fromstring(timeline(series, title="t", y_label="events"))
    assert len(_axis_ticks(root)) == 120
    (axis,) = [g for g in root.iter(f"{SVG}g") if g.get("class") == "x-axis"]
    labels = [t.text or "" for t in axis.iter(f"{SVG}text")]
    assert 5 <= len(labels) <= 10
    assert labels[0] == "2010-01" and all(label.endswith("-01") for label in labels)


def test_the_y_axis_runs_from_zero_to_a_round_maximum() -> None:
    root = ET.fromstring(timeline({"Aleppo": ALEPPO}, title="t", y_label="events"))
    values = {t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"}
    assert {"0", "150"} <= values  # 123 rounded up


def test_the_text_alternative_names_span_and_peak() -> None:
    root = ET.fromstring(
        timeline({"Aleppo Governorate": ALEPPO, "Idlib": IDLIB}, title="Events", y_label="events")
    )
    assert root.get("role") == "img"
    assert root.findtext(f"{SVG}title") == "Events"
    assert root.findtext(f"{SVG}desc") == (
        "events per month, 2016-01 to 2016-09; peak 2016-08 (123) for Aleppo Governorate."
    )
    quiet = ET.fromstring(timeline({"a": {"2016-01": 0}}, title="t", y_label="events"))
    assert "none recorded" in (quiet.findtext(f"{SVG}desc") or "")
    empty = ET.fromstring(timeline({}, title="t", y_label="events"))
    assert "no months" in (empty.findtext(f"{SVG}desc") or "")


def test_one_month_is_a_dot_and_names_are_escaped() -> None:
    markup = timeline({"<b>Raqqa & co</b>": {"2017-06": 4}}, title="A <i>", y_label="x & y")
    assert "<b>" not in markup and "&lt;b&gt;Raqqa &amp; co&lt;/b&gt;" in markup
    root = ET.fromstring(markup)
    (dot,) = [c for c in root.iter(f"{SVG}circle") if c.get("data-series")]
    assert dot.get("data-series") == "<b>Raqqa & co</b>"
    legend = [t.text for t in root.iter(f"{SVG}text")]
    assert "<b>Raqqa & co</b>" in legend and "x & y" in legend
    assert "style=" not in markup and "<script" not in markup


def test_series_differ_by_dash_as_well_as_by_colour_and_read_on_white() -> None:
    series = {f"s{k}": {"2016-01": k, "2016-02": k + 1} for k in range(4)}
    root = ET.fromstring(timeline(series, title="t", y_label="events"))
    lines = list(root.iter(f"{SVG}polyline"))
    assert len({line.get("stroke") for line in lines}) == 4
    assert len({line.get("stroke-dasharray") for line in lines}) == 4
    assert all(contrast_ratio(colour, "#ffffff") >= 3 for colour in SERIES_COLOURS)


def test_contrast_ratio_follows_wcag() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#ffffff", "#767676") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#777777", "#777777") == 1


def test_the_bar_chart_still_draws() -> None:
    markup = bar_chart([("Aleppo", 3.0)], title="b", marks=[("H3", "note")])
    assert ET.fromstring(markup).get("role") == "img"
