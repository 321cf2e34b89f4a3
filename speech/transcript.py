"""A transcript as speech.transcribe returns it, and as it is built, segment by segment."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .guards import Piece


@dataclass
class TranscriptionResult:
    language: str
    duration: float
    text: str
    segments: list[dict[str, Any]] = field(default_factory=list)
    words: list[dict[str, Any]] | None = None
    # include=["logprobs"]: [{"token", "bytes", "logprob"}] of every text token, in order.
    logprobs: list[dict[str, Any]] | None = None
    # The models billed by tokens at OpenAI (`reports_tokens` in transcriptions/openai/policy.py),
    # for their `usage`: the tokens of the text given to the decoder (prompt and keywords), and
    # the text tokens it decoded (timestamps and special tokens left out, as in `logprobs`).
    text_tokens: int | None = None
    output_tokens: int | None = None


class Transcript:
    """The segments let through, numbered from 0 as OpenAI does, each given to `on_segment`."""

    def __init__(
        self, on_segment: Callable[..., None] | None, *, probabilities: bool = False
    ) -> None:
        # probabilities: the words keep faster-whisper's (a live preview's); OpenAI's have none.
        self.on_segment, self.probabilities = on_segment, probabilities
        self.segments: list[dict[str, Any]] = []
        self.words: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []

    def add(self, pieces: list[Piece], duration: float) -> None:
        for piece in pieces:
            item = {**piece.segment, "id": len(self.segments)}
            self.segments.append(item)
            plain = ({k: v for k, v in w.items() if k != "probability"} for w in piece.words)
            self.words.extend(piece.words if self.probabilities else plain)
            self.scores.extend(piece.logprobs or [])
            if self.on_segment is not None:
                self.on_segment(item, duration, piece.logprobs)

    def result(self, info, *, word_timestamps: bool, logprobs: bool) -> TranscriptionResult:
        return TranscriptionResult(
            language=info.language,
            duration=round(info.duration, 3),
            text="".join(s["text"] for s in self.segments).strip(),
            segments=self.segments,
            words=self.words if word_timestamps else None,
            logprobs=self.scores if logprobs else None,
        )
