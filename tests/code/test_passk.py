"""pass@k: the unbiased estimator against the binomial formula, and its intervals."""

from math import comb

import pytest

from sparring.code.passk import mean_pass_at_k, pass_at_k


@pytest.mark.parametrize("n,c,k", [(1, 0, 1), (1, 1, 1), (10, 3, 1), (10, 3, 5), (10, 0, 10), (20, 19, 2), (200, 13, 10), (5, 2, 4)])
def test_product_form_matches_the_binomial_formula(n: int, c: int, k: int) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-12)


def test_hand_values() -> None:
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the fraction correct
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert pass_at_k(5, 3, 3) == 1.0  # only 2 failures: any 3 include a pass
    assert mean_pass_at_k([(4, 1), (4, 4)], 2) == pytest.approx(0.75)


def test_large_n_does_not_overflow() -> None:
    assert 0 < pass_at_k(10_000, 7, 100) < 1


@pytest.mark.parametrize("n,c,k", [(5, 6, 1), (5, 2, 6), (5, 2, 0), (3, -1, 1)])
def test_invalid_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)
