"""The LLM line's distribution metrics and the length-shortcut shares against known answers."""

import numpy as np
import pytest

from sparring.critics.reward import capped_shares
from sparring.llm.evaluation import capped_share, mauve_score


def test_mauve_of_a_set_against_itself_is_near_1_and_against_a_disjoint_set_is_low():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 16)).astype(np.float32)
    b = rng.normal(size=(300, 16)).astype(np.float32)  # the same distribution, other draws
    far = (rng.normal(size=(300, 16)) + 6.0).astype(np.float32)  # disjoint support
    assert mauve_score(a, a.copy(), seed=1) > 0.99
    assert mauve_score(a, b, seed=1) > 0.8
    assert mauve_score(a, far, seed=1) < 0.05


def test_capped_share_counts_what_reaches_the_cap():
    assert capped_share([3, 48, 50, 47], 48) == pytest.approx(0.5)
    assert np.isnan(capped_share([], 48))


class _WordTokenizer:
    """One token per word: enough to count."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


def test_capped_shares_of_a_d_batch_use_the_completion_ids_when_given():
    real = ["a b c", "a b c d e f"]
    texts = ["x y", "x y z w v u t"]
    by_ids = capped_shares((_WordTokenizer(), 5), real, [[1, 2, 3, 4, 5], [1]], texts)
    assert by_ids == {"real_capped_share": 0.5, "fake_capped_share": 0.5}
    by_text = capped_shares((_WordTokenizer(), 5), real, None, texts)
    assert by_text == {"real_capped_share": 0.5, "fake_capped_share": 0.5}
    assert capped_shares((_WordTokenizer(), 2), real, None, texts) == {"real_capped_share": 1.0, "fake_capped_share": 1.0}


class _DecodingTokenizer(_WordTokenizer):
    def decode(self, ids, skip_special_tokens=True):
        return " ".join(ids)


def test_real_answers_reach_d_cut_where_generated_ones_would_be():
    from sparring.critics.reward import cut_to_cap

    texts = ["a b c", "a b c d e f g"]
    assert cut_to_cap((_DecodingTokenizer(), 4), texts) == ["a b c", "a b c d"]
    assert cut_to_cap((_DecodingTokenizer(), 10), texts) == texts


def test_the_teacher_has_its_own_cap_and_its_cache_key_follows_it():
    from sparring.kinds import build_config
    from sparring.llm.tasks import teacher_cache_path, teacher_cap

    same = build_config("align", "smoke")
    longer = build_config("align", "smoke", overrides={"task.teacher_max_new_tokens": 200})
    assert teacher_cap(same) == same.generation.max_new_tokens and teacher_cap(longer) == 200
    assert teacher_cache_path("smollm2-missing", same) != teacher_cache_path("smollm2-missing", longer)
