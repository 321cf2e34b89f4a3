"""How well a diarization matches the truth: the share of the reference's speech time given to
the right speaker, once the hypothesis's labels are mapped one to one onto the reference's
speakers in the way that gives the most time right (labels are arbitrary: "A" need not be the
first speaker of the reference). Speech the hypothesis leaves out, or gives a label mapped to
no speaker, counts as wrong.

Where reference turns overlap there are two ways to count, both here: each turn's time counts
(the default: both speakers' speech should be found, and one label per instant finds one of
them), or the overlap counts once and either speaker is right (the benchmark's accuracy
scenario, which asks only whether the label names someone who is speaking)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

Overlaps = Literal["each", "once"]


@dataclass(frozen=True)
class SpeakerMatch:
    share: float  # 0..1 of the reference's speech time given to the right speaker
    mapping: dict[str, str | None]  # each hypothesis label -> its speaker, None: unmapped


def speaker_time_accuracy(
    reference_turns: Iterable[Any], hypothesis_segments: Iterable[Any]
) -> float:
    """The share (0..1) of the reference turns' time covered by a hypothesis segment of the
    speaker's mapped label. Each turn or segment is a (start, end, speaker) tuple, a mapping
    with those keys (diarized_json's segments) or an object with those attributes
    (diarization.SpeakerTurn); times in seconds. Overlapping reference turns each count."""
    return speaker_time_match(reference_turns, hypothesis_segments).share


def speaker_time_match(
    reference_turns: Iterable[Any],
    hypothesis_segments: Iterable[Any],
    *,
    overlaps: Overlaps = "each",
) -> SpeakerMatch:
    """speaker_time_accuracy's share with the mapping that gives it. `overlaps="once"`: an
    instant where several reference turns overlap counts once and is right if its label maps
    to any of their speakers; an instant in several labels' segments then belongs to the label
    with the most time in all (segments should not overlap), so that it is not counted twice."""
    reference = [span for span in map(_span, reference_turns) if span[1] > span[0]]
    hypothesis = [span for span in map(_span, hypothesis_segments) if span[1] > span[0]]
    if not reference:
        raise ValueError("the reference has no speech time")
    speakers = sorted({speaker for _, _, speaker in reference})
    labels = sorted({label for _, _, label in hypothesis})
    length = {label: 0.0 for label in labels}
    for start, end, label in hypothesis:
        length[label] += end - start
    rank = sorted(labels, key=lambda label: (-length[label], label))
    total = 0.0
    # overlap[s][l]: the time of speaker s's speech that label l's segments cover.
    overlap = [[0.0] * len(labels) for _ in speakers]
    for start, end, turns, present in _pieces(reference, hypothesis):
        if not turns:
            continue
        seconds = end - start
        if overlaps == "once":
            total += seconds
            owners = [min(present, key=rank.index)] if present else []
            counts = dict.fromkeys(turns, 1)
        else:
            total += seconds * sum(turns.values())
            owners, counts = sorted(present), turns
        for speaker, count in counts.items():
            row = overlap[speakers.index(speaker)]
            for label in owners:
                row[labels.index(label)] += seconds * count
    right, pairs = _best_mapping(overlap)
    mapping: dict[str, str | None] = dict.fromkeys(labels)
    for speaker, column in pairs:
        mapping[labels[column]] = speakers[speaker]
    return SpeakerMatch(share=min(1.0, right / total) if total > 0 else 0.0, mapping=mapping)


def _pieces(
    reference: list[tuple[float, float, str]], hypothesis: list[tuple[float, float, str]]
) -> Iterable[tuple[float, float, dict[str, int], set[str]]]:
    """The timeline cut at every start and end: (start, end, how many of each speaker's turns
    hold it, the labels whose segments hold it), by a sweep over the boundaries."""
    events: list[tuple[float, int, int, str]] = []  # (time, +1/-1, 0 reference / 1 hypothesis)
    for spans, side in ((reference, 0), (hypothesis, 1)):
        for start, end, name in spans:
            events += [(start, 1, side, name), (end, -1, side, name)]
    events.sort(key=lambda event: event[0])
    turns: dict[str, int] = {}
    labels: dict[str, int] = {}
    for (at, step, side, name), following in zip(events, [*events[1:], None], strict=True):
        counts = turns if side == 0 else labels
        counts[name] = counts.get(name, 0) + step
        if not counts[name]:
            del counts[name]
        if following is not None and following[0] > at:
            yield at, following[0], dict(turns), set(labels)


def _best_mapping(overlap: list[list[float]]) -> tuple[float, list[tuple[int, int]]]:
    """The one-to-one (speaker, label) pairs with the most time right, and that time: every
    label in turn given to a speaker not yet taken, or to none (exhaustive over the speakers,
    of whom a conversation has few)."""
    speakers = len(overlap)
    columns = len(overlap[0]) if overlap else 0

    @cache
    def best(column: int, used: int) -> tuple[float, tuple[tuple[int, int], ...]]:
        if column == columns:
            return 0.0, ()
        result = best(column + 1, used)  # this label given to no speaker
        for speaker in range(speakers):
            if not used & (1 << speaker) and overlap[speaker][column] > 0:
                time, pairs = best(column + 1, used | (1 << speaker))
                time += overlap[speaker][column]
                if time > result[0]:
                    result = (time, ((speaker, column), *pairs))
        return result

    time, pairs = best(0, 0)
    return time, list(pairs)


def _span(item: Any) -> tuple[float, float, str]:
    if isinstance(item, Mapping):
        start, end, speaker = item["start"], item["end"], item["speaker"]
    elif isinstance(item, tuple | list):
        start, end, speaker = item
    else:
        start, end, speaker = item.start, item.end, item.speaker
    return float(start), float(end), str(speaker)
