"""Speakers for a diarizing job's transcript: the whole file diarized once (engine.diarization)
after its chunks are merged, so that the letters agree across chunks."""

import itertools
import string
from typing import Any

import numpy as np

from .. import engine
from ..engine import diarization, limits
from ..models import Job
from .chunks import job_audio_source


def speakers_label(
    job: Job, result: engine.TranscriptionResult, *, samples: np.ndarray | None = None
) -> None:
    """Give the result's segments their speakers: the whole file (decoded again, bounded as
    _plan decodes it, unless given; the audio is kept until the job ends) diarized within
    Whisper's segments. A segment whose words (a diarizing job always asks for them) fall in
    two speakers' turns is cut where the speaker changes."""
    if not result.segments:
        return
    if samples is None:
        with job_audio_source(job) as source:
            samples = limits.decode_bounded(
                source, max_seconds=job.probed_duration + limits.DECODE_MARGIN_SECONDS
            )
    known = {
        speaker["name"]: np.asarray(speaker["embedding"], dtype=np.float32)
        for speaker in job.known_speakers or []
    }
    turns = diarization.diarize(
        samples, regions=[(s["start"], s["end"]) for s in result.segments], known=known or None
    )
    words = result.words or []
    word_speakers = diarization.label_segments(words, turns) if words else []
    pieces: list[dict[str, Any]] = []
    taken = 0
    segment_speakers = diarization.label_segments(result.segments, turns)
    for number, (segment, speaker) in enumerate(
        zip(result.segments, segment_speakers, strict=True)
    ):
        last = number == len(result.segments) - 1
        inside = []  # the segment's words: those whose middle is before its end
        while taken < len(words) and (
            last or (words[taken]["start"] + words[taken]["end"]) / 2 < segment["end"]
        ):
            inside.append(taken)
            taken += 1
        runs: list[list[int]] = []
        for index in inside:
            if runs and word_speakers[runs[-1][-1]] == word_speakers[index]:
                runs[-1].append(index)
            else:
                runs.append([index])
        if len(runs) <= 1:
            pieces.append({**segment, "speaker": word_speakers[runs[0][0]] if runs else speaker})
            continue
        texts = _text_cut(segment["text"], [[words[i]["word"] for i in run] for run in runs])
        for run, text in zip(runs, texts, strict=True):
            pieces.append(
                {
                    **segment,
                    "start": words[run[0]]["start"],
                    "end": words[run[-1]]["end"],
                    "text": text,
                    "tokens": [],
                    "speaker": word_speakers[run[0]],
                }
            )
    # Letters by first appearance in the transcript (a turn too short to hold a segment of
    # its own could have taken a letter first).
    letters = iter(string.ascii_uppercase)
    renamed: dict[str, str] = {}
    for number, piece in enumerate(pieces):
        speaker = piece["speaker"]
        if len(speaker) == 1 and speaker in string.ascii_uppercase:
            if speaker not in renamed:
                renamed[speaker] = next(letters, speaker)
            piece["speaker"] = renamed[speaker]
        piece["id"] = number
    result.segments = pieces
    if "word" not in (job.timestamp_granularities or []):
        result.words = None


def _text_cut(text: str, runs: list[list[str]]) -> list[str]:
    """A segment's text cut before the first word of each run after the first, so that the
    pieces join to the text (as the stream's deltas do; spaces stay where Whisper wrote
    them, and scripts without spaces stay whole); the runs' words joined by spaces if a word
    is not found in it."""
    cuts, cursor = [0], 0
    for run in runs:
        found = text.find(run[0], cursor) if run[0] else -1
        if found < 0:
            return [" " + " ".join(run) for run in runs]
        cursor = found + len(run[0])
        if len(cuts) < len(runs) + 1 and run is not runs[0]:
            while found > cuts[-1] and text[found - 1].isspace():
                found -= 1
            cuts.append(found)
        for word in run[1:]:
            at = text.find(word, cursor) if word else -1
            if at >= 0:
                cursor = at + len(word)
    cuts.append(len(text))
    return [text[start:end] for start, end in itertools.pairwise(cuts)]
