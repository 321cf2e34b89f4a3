"""A live turn's transcript that its deltas add up to.

The deltas a turn sent while it was spoken (the previews' words) cannot be taken back, and a
client joins them (OpenAI's deltas concatenate to the `completed` transcript). The turn's own
decode hears the whole turn and may disagree with them: its transcript is then the sent words
followed by the part of the decode's text that comes after them. Where the sent words end in
the decode's text is where their letters are closest to the decode's (an edit distance over
letters, at a word boundary): a word heard as two ("am I" for "my"), or spelt alike
("servants" for "servers"), stands for its own place and no more, so a misheard word costs
that word and nothing after it.
"""

import re

_WORD = re.compile(r"\s*\S+")


def _key(word: str) -> str:
    """A word as the alignment compares it: its letters and digits, in lower case."""
    return "".join(c for c in word.lower() if c.isalnum())


def sent_words_end(sent: str, text: str) -> int:
    """How many of `text`'s words the words of `sent` stand for: the prefix of `text`, ending at
    a word, whose letters are at the least edit distance from `sent`'s (the shorter of equals:
    a decoded word the previews did not have is kept)."""
    said = [_key(word) for word in _WORD.findall(sent)]
    heard = [_key(word) for word in _WORD.findall(text)]
    common = 0  # the words both have alike from the start, left out of the distance
    while common < min(len(said), len(heard)) and said[common] == heard[common]:
        common += 1
    letters, rest = "".join(said[common:]), "".join(heard[common:])
    if not letters:
        return common
    # distances[j]: from the sent letters so far to the first j letters of the decode's rest.
    distances = list(range(len(rest) + 1))
    for letter in letters:
        previous, distances = distances, [distances[0] + 1]
        for j, other in enumerate(rest, start=1):
            distances.append(
                min(previous[j - 1] + (letter != other), previous[j] + 1, distances[j - 1] + 1)
            )
    ends, position = [0], 0  # each word's end among the letters of the decode's rest
    for word in heard[common:]:
        position += len(word)
        ends.append(position)
    best = min(range(len(ends)), key=lambda words: (distances[ends[words]], words))
    return common + best


def transcript_after(sent: str, text: str) -> str:
    """The turn's transcript: `text` (its decode's) when it starts with what the deltas `sent`,
    else `sent` and the words of `text` after those `sent` stands for."""
    text = text.strip()
    if not sent or text.startswith(sent):
        return text or sent
    words = _WORD.findall(text)
    rest = "".join(words[sent_words_end(sent, text) :]).strip()
    return f"{sent} {rest}" if rest else sent
