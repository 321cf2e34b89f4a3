"""Word error rates: both texts normalized alike, numbers kept as written."""

import pytest

from tools.wer import normalize, word_error_rate


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("And so, my fellow Americans, ask not!", "and so my fellow americans ask not"),
        ("  Tabs\tand\nnew lines   collapse ", "tabs and new lines collapse"),
        ("sublicense, and/or sell", "sublicense and or sell"),
        ("Don't stop — it's “quoted”.", "dont stop its quoted"),
        ("It cost 1,000 dollars, or 3.5 each.", "it cost 1,000 dollars or 3.5 each"),
        ("ComfyUI (the app)", "comfyui the app"),
        ("", ""),
    ],
)
def test_normalize(text, normalized):
    assert normalize(text) == normalized


def test_a_transcript_that_differs_only_in_case_and_punctuation_is_perfect():
    assert (
        word_error_rate("Ask not what your country can do.", "ask not, what your COUNTRY can do")
        == 0
    )


def test_substitutions_deletions_and_insertions_count_per_reference_word():
    assert word_error_rate("a b c d", "a x c") == pytest.approx(0.5)  # one substituted, one missing
    assert word_error_rate("a b", "a b c d") == pytest.approx(1.0)  # two inserted
    assert word_error_rate("a b", "") == pytest.approx(1.0)


def test_numbers_are_not_spelled_out():
    assert word_error_rate("one thousand", "1000") == pytest.approx(1.0)


def test_a_reference_without_words_is_refused():
    with pytest.raises(ValueError):
        word_error_rate(" ... ", "text")
