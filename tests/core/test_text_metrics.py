"""BLEU, Self-BLEU and distinct-n against hand-computed values (and NLTK where installed)."""

import math
import random

import pytest

from sparring.metrics.bleu import bleu, self_bleu
from sparring.metrics.diversity import distinct_n


def test_bleu_by_hand():
    # hyp "a b c" vs ref "a b d": p1 = 2/3, p2 = 1/2, no trigram match -> smoothed 0.1/1; equal lengths -> BP = 1
    scores = bleu([["a", "b", "c"]], [["a", "b", "d"]], orders=(2, 3))
    assert scores[2] == pytest.approx(math.sqrt(2 / 3 * 1 / 2))
    assert scores[3] == pytest.approx((2 / 3 * 1 / 2 * 0.1) ** (1 / 3))


def test_bleu_clips_by_the_best_single_reference_and_uses_the_closest_length():
    # "a a a a": refs "a a b b" (2 a's) and "a c" (1 a): clip at 2 -> p1 = 2/4; no bigram "a a" count > 1 in refs
    refs = [["a", "a", "b", "b"], ["a", "c"]]
    scores = bleu([["a", "a", "a", "a"]], refs, orders=(2,))
    # bigrams of hyp: 3 x "a a", ref 1 has "a a" once -> p2 = 1/3; closest ref length 4 -> BP = 1
    assert scores[2] == pytest.approx(math.sqrt(2 / 4 * 1 / 3))
    # a 2-word hypothesis: closest reference length is 2 -> BP = 1; "a c" matches fully
    assert bleu([["a", "c"]], refs, orders=(2,))[2] == pytest.approx(1.0)
    # a short hypothesis against one long reference pays the brevity penalty exp(1 - 4/2)
    assert bleu([["a", "a"]], [["a", "a", "b", "b"]], orders=(2,))[2] == pytest.approx(math.exp(1 - 4 / 2))


def test_no_unigram_match_scores_zero():
    assert bleu([["x", "y"]], [["a", "b"]]) == {2: 0.0, 3: 0.0, 4: 0.0, 5: 0.0}


def test_self_bleu_of_identical_hypotheses_is_one():
    hyps = [["a", "man", "rides", "a", "bike"]] * 5
    assert all(v == pytest.approx(1.0) for v in self_bleu(hyps).values())


def test_self_bleu_leaves_the_hypothesis_out():
    # Two copies score 1 against each other; the odd one out has no unigram in the others -> 0.
    # Including each hypothesis in its own references (Texygen) would give 1 for all three.
    hyps = [["a", "b"], ["a", "b"], ["c", "d"]]
    assert self_bleu(hyps, orders=(2,))[2] == pytest.approx(2 / 3)
    assert bleu(hyps, hyps, orders=(2,))[2] == pytest.approx(1.0)


def test_matches_nltk_sentence_bleu_with_method1():
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    rng = random.Random(0)
    words = list("abcdefgh")
    refs = [[rng.choice(words) for _ in range(rng.randint(1, 9))] for _ in range(40)]
    hyps = [[rng.choice(words) for _ in range(rng.randint(1, 9))] for _ in range(25)]
    smooth = nltk_bleu.SmoothingFunction().method1
    ours, ours_self = bleu(hyps, refs), self_bleu(hyps)
    for n in (2, 3, 4, 5):
        weights = (1 / n,) * n
        expected = sum(nltk_bleu.sentence_bleu(refs, h, weights, smoothing_function=smooth) for h in hyps) / len(hyps)
        expected_self = sum(
            nltk_bleu.sentence_bleu(hyps[:i] + hyps[i + 1 :], h, weights, smoothing_function=smooth) for i, h in enumerate(hyps)
        ) / len(hyps)
        assert ours[n] == pytest.approx(expected, abs=1e-12)
        assert ours_self[n] == pytest.approx(expected_self, abs=1e-12)


def test_distinct_n_on_a_toy_list():
    sents = [["a", "b", "a"], ["a", "c"]]
    assert distinct_n(sents, 1) == pytest.approx(3 / 5)  # a, b, c out of 5 tokens
    assert distinct_n(sents, 2) == pytest.approx(3 / 3)  # ab, ba, ac
    assert distinct_n([["a"]], 2) == 0.0
