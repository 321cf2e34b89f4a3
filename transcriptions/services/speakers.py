"""Speakers for a diarizing job's transcript: the whole file diarized once (engine.diarization)
after its chunks are merged, so that the letters agree across chunks.

Known speakers' references are stored with the job as the files the request held (probed, never
decoded, in the web process) and embedded by the worker that takes the job's first chunk, before
any transcription: a job whose worker has no speaker encoder fails at once, naming the command
that installs it (the encoder is never downloaded on a job's way)."""

import io
import itertools
import string
from typing import Any

import numpy as np
from django.core.files.base import ContentFile

import speech as engine
from speech import diarization, limits, speaker_encoder

from ..models import Job
from .chunks import job_audio_source
from .storage import storage_save

ENCODER_UNAVAILABLE = "speaker_encoder_unavailable"
MSG_ENCODER_MISSING = (
    "Speaker diarization is not available on this server: its speaker encoder is not "
    f"installed. The operator installs it with `{speaker_encoder.FETCH_COMMAND}`."
)
# A reference measured 2-10 s by its packets decodes to about as much; never more than this.
REFERENCE_MAX_SECONDS = 10.0 + limits.DECODE_MARGIN_SECONDS


class SpeakerEncoderUnavailable(Exception):
    """This machine has no verified copy of the speaker encoder's weights."""


def speaker_encoder_check() -> None:
    """SpeakerEncoderUnavailable unless the encoder loads (from the local copy only)."""
    try:
        speaker_encoder.get_encoder()
    except engine.ModelUnavailable as exc:
        raise SpeakerEncoderUnavailable(str(exc)) from exc


# --- Known speakers' references ------------------------------------------------------------------


def speaker_references_store(*, job: Job, speakers: Any) -> list[dict[str, Any]]:
    """Store each (name, reference file) beside the job's audio: the job's `known_speakers`
    entries, {"name", "reference": the stored name}. Nothing is left stored if one fails."""
    storage = job.audio.storage
    entries: list[dict[str, Any]] = []
    try:
        for index, (name, clip) in enumerate(speakers):
            stored = storage_save(
                storage, f"audio/{job.tenant_id}/{job.public_id}.speaker-{index}", ContentFile(clip)
            )
            entries.append({"name": name, "reference": stored})
    except BaseException:
        _references_delete(job, entries)
        raise
    return entries


def speaker_references_delete(*, job: Job) -> None:
    """The job's stored references go, with its audio (their embeddings stay in the row)."""
    _references_delete(job, job.known_speakers or [])


def _references_delete(job: Job, entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        if entry.get("reference"):
            job.audio.storage.delete(entry["reference"])


def known_speakers_embed(job: Job) -> dict[str, np.ndarray]:
    """Each known speaker's voice: its reference decoded (bounded) and embedded once, the
    embeddings kept in the job's row for whichever worker labels the merged transcript. An
    embedding of another size is another encoder's (a job queued before an upgrade): its
    reference, kept until the job ends, is embedded again."""
    entries = [dict(entry) for entry in job.known_speakers or []]
    missing = [
        entry
        for entry in entries
        if len(entry.get("embedding") or ()) != diarization.EMBEDDING_SIZE
    ]
    if missing:
        speaker_encoder_check()
        for entry in missing:
            with job.audio.storage.open(entry["reference"], "rb") as fh:
                raw = fh.read()
            samples = limits.decode_bounded(io.BytesIO(raw), max_seconds=REFERENCE_MAX_SECONDS)
            entry["embedding"] = [round(float(x), 6) for x in diarization.embed(samples)]
        Job.objects.filter(pk=job.pk).update(known_speakers=entries)
        job.known_speakers = entries
    return {entry["name"]: np.asarray(entry["embedding"], dtype=np.float32) for entry in entries}


def speakers_label(
    job: Job, result: engine.TranscriptionResult, *, samples: np.ndarray | None = None
) -> None:
    """Give the result's segments their speakers: the whole file (decoded again, bounded as
    _plan decodes it, unless given; the audio is kept until the job ends) diarized within
    Whisper's segments. A segment whose words (a diarizing job always asks for them) fall in
    two speakers' turns is cut where the speaker changes."""
    if not result.segments:
        return
    speaker_encoder_check()
    known = known_speakers_embed(job)
    if samples is None:
        with job_audio_source(job) as source:
            samples = limits.decode_bounded(
                source, max_seconds=job.probed_duration + limits.DECODE_MARGIN_SECONDS
            )
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
    # Each piece's times widened to its speaker's turn (its words' times lie inside the voice).
    spans = [(piece["start"], piece["end"], piece["speaker"]) for piece in pieces]
    for piece, (start, end) in zip(pieces, diarization.spans_widened(spans, turns), strict=True):
        piece["start"], piece["end"] = round(start, 3), round(end, 3)
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
