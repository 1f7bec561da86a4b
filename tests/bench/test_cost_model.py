"""``bench.cost_model``: the cost model of docs/scaling.md, fitted to measured runs."""

from __future__ import annotations

from typing import Any

import pytest

from bench.cost_model import fit, line_fit, predict, views_per_record


def _run(n: int, *, rho: float, o: tuple[float, float], p: tuple[float, float]) -> dict[str, Any]:
    """A scale run whose nodes cost exactly what the model says."""
    results = rho * (n - 1)
    cpu = {"mission": o[0] + o[1] * (n - 1)}
    cpu.update({f"body-{i}": p[0] + p[1] * (n - 1) for i in range(n - 1)})
    return {"participants": n, "results_per_record": results, "node_cpu_ms_per_record": cpu}


def test_views_are_one_per_other_participant_for_the_record_and_each_result() -> None:
    assert views_per_record(4, 0.0) == 3
    assert views_per_record(16, 0.5) == 22.5


def test_line_fit_recovers_a_line_and_refuses_too_few_points() -> None:
    assert line_fit([1, 2, 3], [5, 7, 9]) == pytest.approx((3.0, 2.0))
    with pytest.raises(ValueError, match="two"):
        line_fit([1], [2])
    with pytest.raises(ValueError, match="different"):
        line_fit([2, 2], [1, 3])


def test_fit_recovers_the_constants_the_runs_were_made_with() -> None:
    runs = [_run(n, rho=0.01, o=(1.5, 0.4), p=(0.9, 0.6)) for n in (4, 8, 16)]
    model = fit(runs)
    assert (model.rho, model.o0, model.o1, model.p0, model.p1) == pytest.approx(
        (0.01, 1.5, 0.4, 0.9, 0.6)
    )
    for _, measured, modelled in model.originator_check + model.others_check:
        assert measured == pytest.approx(modelled)


def test_predict_bounds_the_rate_by_the_busiest_node() -> None:
    model = fit([_run(n, rho=0.01, o=(1.5, 0.4), p=(0.9, 0.6)) for n in (4, 8, 16)])
    at_200 = predict(model, 200)
    assert at_200.results_per_record == pytest.approx(1.99)
    assert at_200.views_per_record == pytest.approx(199 * 2.99)
    assert at_200.originator_cpu_ms_per_record == pytest.approx(1.5 + 0.4 * 199)
    assert at_200.other_cpu_ms_per_record == pytest.approx(0.9 + 0.6 * 199)
    assert at_200.records_per_s == pytest.approx(1000 / (0.9 + 0.6 * 199))  # the others bound it
    small = fit([_run(n, rho=0.0, o=(0.1, 0.0), p=(2.0, 0.0)) for n in (4, 8)])
    assert predict(small, 50).records_per_s == pytest.approx(500.0)  # 2 ms at every receiver
