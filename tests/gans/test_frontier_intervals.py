"""Frontier comparison and seed intervals, against hand-computed values."""

import math

import pytest

from sparring.gans.frontier import compare_fronts, interpolate, pareto_front
from sparring.metrics.intervals import format_interval, mean_interval, paired_verdict, t_critical


def test_pareto_front_drops_dominated_points_and_sorts_by_x():
    # T > 1 points are worse on both axes than T = 1: they leave the front
    points = [(8.0, 9.0), (7.5, 9.5), (7.2, 10.0), (7.6, 10.4), (8.3, 11.0)]
    assert pareto_front(points) == [(7.2, 10.0), (7.5, 9.5), (8.0, 9.0)]


def test_interpolation_is_linear_between_front_points_and_none_outside():
    front = [(7.0, 10.0), (8.0, 9.0)]
    assert interpolate(front, 7.25) == pytest.approx(9.75)
    assert interpolate(front, 8.0) == 9.0 and interpolate(front, 6.9) is None and interpolate(front, 8.1) is None


def test_a_front_lower_everywhere_dominates():
    a = [(7.0, 9.8), (8.0, 8.8)]
    b = [(7.0, 10.0), (8.0, 9.0)]
    result = compare_fronts(a, b)
    assert result["verdict"] == "a dominates" and result["mean_gap"] == pytest.approx(0.2) and result["crossings"] == []
    assert compare_fronts(b, a)["verdict"] == "b dominates"


def test_crossing_fronts_say_where():
    a = [(7.0, 9.1), (8.0, 8.9)]  # nearly flat
    b = [(7.0, 10.0), (8.0, 8.0)]  # crosses a at x = 7.5
    result = compare_fronts(a, b, grid=11)
    assert result["verdict"] == "cross" and result["crossings"] == [pytest.approx(7.5, abs=0.06)]


def test_fronts_without_a_shared_range_are_not_compared():
    assert compare_fronts([(1.0, 2.0)], [(3.0, 1.0)])["verdict"] == "no overlap"


def test_mean_interval_is_students_t():
    mean, low, high = mean_interval([1.0, 2.0, 3.0])  # sd 1, n 3: half-width 4.303 / sqrt(3)
    assert mean == 2.0 and high - mean == pytest.approx(4.303 / math.sqrt(3)) and mean - low == pytest.approx(high - mean)
    assert t_critical(2) == 4.303 and t_critical(200) == 1.96
    one = mean_interval([5.0])
    assert one[0] == 5.0 and math.isnan(one[1]) and format_interval(*one) == "5.000"


def test_paired_verdict_needs_the_interval_on_one_side():
    # differences -0.2, -0.3, -0.25: mean -0.25, sd 0.05, half-width 4.303 * 0.05 / sqrt(3) = 0.124: ahead
    assert paired_verdict([7.0, 7.1, 7.2], [7.2, 7.4, 7.45])[0] == "ahead"
    assert paired_verdict([7.2, 7.4, 7.45], [7.0, 7.1, 7.2])[0] == "behind"
    assert paired_verdict([7.0, 7.5, 7.2], [7.2, 7.1, 7.3])[0] == "tie"  # differences -0.2, +0.4, -0.1
    assert paired_verdict([0.9, 0.8, 0.85], [0.7, 0.6, 0.68], lower_is_better=False)[0] == "ahead"  # e.g. BLEU
    assert paired_verdict([1.0], [2.0])[0] == "tie"  # one seed: no claim


def _fake_run(root, name, algo, sweep):
    import json

    from sparring.config import to_dict
    from sparring.gans.api import Run
    from sparring.kinds import build_config

    path = root / name
    (path / "evaluation").mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(to_dict(build_config(algo, "smoke"))))
    (path / "evaluation" / "temperatures.json").write_text(json.dumps(sweep))
    return Run(path)


def test_report_compares_each_run_with_the_first_at_matched_coverage(tmp_path):
    from sparring.gans.report import frontier_verdicts

    mle = _fake_run(tmp_path, "mle", "mle", [{"nll_test": 7.0, "nll_oracle": 10.0}, {"nll_test": 8.0, "nll_oracle": 9.0}])
    better = _fake_run(tmp_path, "better", "seqgan", [{"nll_test": 7.0, "nll_oracle": 9.8}, {"nll_test": 8.0, "nll_oracle": 8.8}])
    crossing = _fake_run(tmp_path, "crossing", "seqgan", [{"nll_test": 7.0, "nll_oracle": 10.2}, {"nll_test": 8.0, "nll_oracle": 8.6}])
    lines = frontier_verdicts([mle, better, crossing])
    assert "better dominates mle (better by 0.200 on average over nll_test 7.000-8.000)" in lines[0]
    assert "the curves cross at nll_test 7.33" in lines[1]  # 10.2 - 1.6t = 10 - t at t = 1/3
    assert frontier_verdicts([mle]) == []


def test_report_flags_collapsed_samples():
    from sparring.gans.report import collapse_flags

    data = {"test_mean_words": 10.0, "test_distinct_2": 0.5}
    rows = [{"run": "ok", "mean_words": 9.0, "distinct_2": 0.45, "data": data},
            {"run": "short", "mean_words": 6.0, "distinct_2": 0.45, "data": data},
            {"run": "oracle", "mean_words": None, "distinct_2": None, "data": {}}]
    assert collapse_flags(rows) == ["collapsed: short's mean_words is 6.000, below 70% of the data's 10.000"]
    # distinct-2 is compared with the same number of real sentences when the row has it (a larger set is less distinct)
    same_size = [{"run": "samey", "mean_words": 9.0, "distinct_2": 0.45, "data_distinct_2": 0.8, "data": data}]
    assert collapse_flags(same_size) == ["collapsed: samey's distinct_2 is 0.450, below 70% of the data's 0.800"]


def test_cluster_jackknife_of_a_mean_is_the_t_interval_and_respects_clusters() -> None:
    from sparring.metrics.intervals import cluster_jackknife, mean_interval

    values = [1.0, 2.0, 3.0, 4.0]
    mean = lambda items: sum(values[i] for i in items) / len(items)  # noqa: E731
    value, low, high = cluster_jackknife(mean, [[0], [1], [2], [3]])
    # one item per cluster: the jackknife standard error of a mean is s / sqrt(n) = 1.2910 / 2
    assert value == 2.5 and math.isclose(high - value, 3.182 * 1.2909944 / 2, rel_tol=1e-6)
    assert (low, high) == pytest.approx(mean_interval(values)[1:])
    # two clusters of two: the interval is that of the two cluster means (1.5 and 3.5), t with 1 df
    _, low, high = cluster_jackknife(mean, [[0, 1], [2, 3]])
    assert math.isclose(high - 2.5, 12.706 * 1.0, rel_tol=1e-6)


def test_self_bleu_scores_average_to_self_bleu_and_pooled_nll_weighs_by_tokens() -> None:
    from sparring.hf.generation import pooled_nll
    from sparring.metrics.bleu import self_bleu, self_bleu_scores

    sentences = [s.split() for s in ("a cat sat on the mat", "a dog sat on the mat", "the cat ran", "a cat sat on a hat")]
    per = self_bleu_scores(sentences, orders=(2, 4))
    assert {n: sum(v) / len(v) for n, v in per.items()} == pytest.approx(self_bleu(sentences, orders=(2, 4)))
    assert pooled_nll([(6.0, 2), (1.0, 2)]) == 1.75  # (6 + 1) / 4
    assert pooled_nll([(6.0, 3), (1.0, 1)]) == 1.75  # per token, not the mean of the responses' 2.0 and 1.0


def test_bootstrap_over_tasks_and_the_paired_verdict() -> None:
    from sparring.metrics.intervals import bootstrap_mean_interval, paired_bootstrap_verdict

    assert bootstrap_mean_interval([0.25] * 10) == (0.25, 0.25)
    low, high = bootstrap_mean_interval([0.0] * 50 + [1.0] * 50, seed=1)
    assert low < 0.5 < high and high - low == pytest.approx(2 * 1.96 * 0.05, abs=0.03)  # the normal approximation's width
    assert bootstrap_mean_interval([0.0, 1.0] * 20, seed=3) == bootstrap_mean_interval([0.0, 1.0] * 20, seed=3)  # seeded
    call, mean, low, high = paired_bootstrap_verdict([1.0] * 20, [0.0] * 20)
    assert (call, mean, low, high) == ("ahead", 1.0, 1.0, 1.0)
    assert paired_bootstrap_verdict([1.0, 0.0] * 10, [0.0, 1.0] * 10)[0] == "tie"
    assert paired_bootstrap_verdict([0.0] * 20, [0.5] * 20)[0] == "behind"
