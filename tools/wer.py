"""Word error rate of a transcript against its reference (jiwer), both normalized the same way:
lower case, punctuation out, whitespace collapsed; numbers stay as they are written ("1,000"
and "3.5" keep their separators; "one thousand" is not "1000")."""

import re

# An apostrophe joins ("don't" -> "dont"); any other punctuation separates ("and/or" -> "and or").
_APOSTROPHES = re.compile(r"['\u2019]")
# Any punctuation but a comma or point inside a number.
_PUNCTUATION = re.compile(r"(?!(?<=\d)[.,](?=\d))[^\w\s]|_")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    text = _APOSTROPHES.sub("", text.lower())
    return _SPACE.sub(" ", _PUNCTUATION.sub(" ", text)).strip()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Errors (substitutions, deletions, insertions) per reference word; 0.0 is a perfect
    transcript, and it may exceed 1.0 (a transcript with more wrong words than the reference)."""
    import jiwer

    reference, hypothesis = normalize(reference), normalize(hypothesis)
    if not reference:
        raise ValueError("the reference has no words")
    return jiwer.wer(reference, hypothesis)
