"""How well a diarization matches the truth: the share of the reference's speech time given to
the right speaker, once the hypothesis's labels are mapped one to one onto the reference's
speakers in the way that gives the most time right (labels are arbitrary: "A" need not be the
first speaker of the reference). Speech the hypothesis leaves out, or gives a label mapped to
no speaker, counts as wrong."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any


def speaker_time_accuracy(
    reference_turns: Iterable[Any], hypothesis_segments: Iterable[Any]
) -> float:
    """The share (0..1) of the reference turns' time covered by a hypothesis segment of the
    speaker's mapped label. Each turn or segment is a (start, end, speaker) tuple, a mapping
    with those keys (diarized_json's segments) or an object with those attributes
    (diarization.SpeakerTurn); times in seconds. Overlapping reference turns each count."""
    reference = [_span(turn) for turn in reference_turns]
    total = sum(end - start for start, end, _ in reference)
    if total <= 0:
        raise ValueError("the reference has no speech time")
    by_label: dict[str, list[tuple[float, float]]] = {}
    for start, end, label in map(_span, hypothesis_segments):
        by_label.setdefault(label, []).append((start, end))
    labels = sorted(by_label)
    covered = {label: _union(spans) for label, spans in by_label.items()}
    speakers = sorted({speaker for _, _, speaker in reference})
    # overlap[s][l]: the time of speaker s's turns that label l's segments cover.
    overlap = [[0.0] * len(labels) for _ in speakers]
    for start, end, speaker in reference:
        row = overlap[speakers.index(speaker)]
        for column, label in enumerate(labels):
            row[column] += sum(max(0.0, min(end, b) - max(start, a)) for a, b in covered[label])

    @cache
    def best(speaker: int, used: int) -> float:
        """The most time right for speakers from `speaker` on, the labels in `used` taken."""
        if speaker == len(speakers):
            return 0.0
        result = best(speaker + 1, used)  # this speaker given no label
        for column in range(len(labels)):
            if not used & (1 << column):
                result = max(
                    result, overlap[speaker][column] + best(speaker + 1, used | (1 << column))
                )
        return result

    return min(1.0, best(0, 0) / total)


def _span(item: Any) -> tuple[float, float, str]:
    if isinstance(item, Mapping):
        start, end, speaker = item["start"], item["end"], item["speaker"]
    elif isinstance(item, tuple | list):
        start, end, speaker = item
    else:
        start, end, speaker = item.start, item.end, item.speaker
    return float(start), float(end), str(speaker)


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted spans joined where they overlap (a label's time counted once)."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
