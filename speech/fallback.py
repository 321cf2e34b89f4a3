"""Whisper's fallback ladder, seeded, on the windows that need it, within a budget.

Every decode is first made at temperature 0 with beam search, which draws nothing at random.
A window whose text misses Whisper's thresholds (guards.falls_back) would be decoded again by
Whisper's ladder (temperatures 0.2 ... 1.0, sampling): that window alone is decoded again, from
its first segment's window start (`seek`) to where the next window of the first pass starts,
with the tokens the first pass had before it as the prompt (as Whisper conditions a window on
the previous text), on a fresh model seeded from that audio and those options (guards.seeded
says why a fresh one). The windows before and after it keep their first-pass text.

What that costs (measured on the benchmarks page): a model load, and the ladder, up to six
decodes of the window, each an encoder pass over a padded 30 s window and a sampled decode of
five hypotheses that on a hard stretch runs to hundreds of tokens. Audio made to miss the thresholds in every window would
cost that in every window, so a decode (a job: its file or chunk and the stretches decoded again
for coverage) samples at most `SeededBudget.windows` windows; the windows past it keep their
temperature-0 text, the text Whisper had before its ladder. A window in which the VAD hears no
speech is not sampled at all: the guards drop its text whatever the ladder would give.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .guards import Piece, falls_back

# A decode may sample one window per this many seconds of its audio, and at least one: of a file
# hard all through (30 s windows), at most one window in four is sampled, however it was made.
SEEDED_WINDOW_EVERY_SECONDS = 120.0
FRAMES_PER_SECOND = 100  # faster-whisper's `seek` unit
# No speech needs more tokens a second than this (fast speech takes about 6, text in CJK scripts
# and the timestamps about twice that): a sampled hypothesis of a window longer than
# TOKENS_BASE + TOKENS_PER_SECOND * its seconds is a loop, and the ladder stops it there. On a
# short window (a stretch decoded again for coverage, the tail of a file) the ladder's five
# hypotheses at five temperatures otherwise run to Whisper's limit: 27 s of CPU for a 0.4 s
# tail on base, measured. A full 30 s window is not capped (Whisper's own limit is lower).
TOKENS_BASE = 32
TOKENS_PER_SECOND = 16
MAX_LENGTH = 448  # Whisper's decoder: prompt and new tokens together


def token_cap(seconds: float, prompt_tokens: int) -> int | None:
    """faster-whisper's `max_new_tokens` for the ladder on a window of `seconds`, given (an
    upper bound of) its prompt's length; None where Whisper's own limit is the lower."""
    cap = int(TOKENS_BASE + TOKENS_PER_SECOND * seconds)
    return cap if prompt_tokens + cap <= MAX_LENGTH else None


@dataclass
class SeededBudget:
    """The windows a decode may still sample, and what it sampled (`windows_used`, their
    audio `seconds`) and left at temperature 0 (`windows_refused`)."""

    windows: int
    windows_used: int = 0
    seconds: float = 0.0
    windows_refused: int = 0

    @classmethod
    def for_audio(cls, seconds: float) -> "SeededBudget":
        return cls(windows=max(1, int(seconds // SEEDED_WINDOW_EVERY_SECONDS)))

    def take(self, start: float, end: float) -> bool:
        """Whether the window from `start` to `end` (seconds) may be sampled; counted if so."""
        if self.windows_used >= self.windows:
            self.windows_refused += 1
            return False
        self.windows_used += 1
        self.seconds += end - start
        return True


# (the window's first-pass pieces, its start and end in seconds, the first pass's tokens before
# it) -> the pieces that replace them
Redo = Callable[[list[Piece], float, float, list[int]], list[Piece]]


class Windows:
    """The first pass's pieces in order, window by window (`feed`, then `close`): a window that
    misses the thresholds is held until its end is known (the next window's start, or the end of
    the audio) and handed to `redo`; every other piece comes out as it comes."""

    def __init__(self, *, ladder: bool, redo: Redo, duration: float, prompt: list[int]) -> None:
        self.ladder = ladder
        self.redo = redo
        self.duration = duration
        self.tokens = list(prompt)  # what faster-whisper conditions the next window on
        self.held: list[Piece] = []
        self.before: list[int] = []  # the tokens before the held window

    def feed(self, piece: Piece) -> list[Piece]:
        out: list[Piece] = []
        seek = piece.segment["seek"]
        if self.held and seek != self.held[0].segment["seek"]:
            out = self._redone(seek / FRAMES_PER_SECOND)
        if self.held or (self.ladder and falls_back(piece.segment)):
            if not self.held:
                self.before = list(self.tokens)
            self.held.append(piece)
        else:
            out.append(piece)
        self.tokens.extend(piece.segment["tokens"])
        return out

    def close(self) -> list[Piece]:
        return self._redone(self.duration) if self.held else []

    def _redone(self, end: float) -> list[Piece]:
        held, self.held = self.held, []
        start = held[0].segment["seek"] / FRAMES_PER_SECOND
        return self.redo(held, start, max(end, start), self.before)
