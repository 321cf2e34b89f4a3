"""The diarization scenario: what speaker labels add to a job's worker time.

A conversation of the shipped clips of different voices (jfk.flac, hotwords.mp3, the English and
the German reader of multilingual.mp3) taking turns with short pauses is transcribed in this
process as a diarizing job's worker does (word times on: a diarizing job asks for them), and
diarized as the worker then does (the whole file, Whisper's segments as regions). Both are
timed on the same samples, with the worker's thread count; the target is diarization <= 25 % of
the transcription's time. Run in this process: the cost is the worker's, not the API's.
"""

import time
from typing import Any

import numpy as np

import speech as engine
from speech import diarization

from .longaudio import HOTWORDS, JFK, MIT_ENGLISH, SAMPLE_RATE, Clip, clip_samples

TARGET = 0.25
# The German half of multilingual.mp3: another voice (the diarization tests show it).
GERMAN = Clip(name="mit-licence-de", file="multilingual.mp3", reference="")
TURNS = (JFK, MIT_ENGLISH, HOTWORDS, GERMAN, JFK, HOTWORDS)
PAUSE_SECONDS = 0.8


def conversation() -> tuple[np.ndarray, int]:
    """The turns one after the other with pauses; the samples and how many voices speak."""
    pieces = []
    for clip in TURNS:
        samples = clip_samples(clip)
        if clip is GERMAN:
            samples = samples[round(31.0 * SAMPLE_RATE) :]
        pieces += [samples, np.zeros(round(PAUSE_SECONDS * SAMPLE_RATE), np.float32)]
    return np.concatenate(pieces[:-1]), len({clip.name for clip in TURNS})


def diarization_run(*, model: str, runs: int, progress) -> dict[str, Any]:
    samples, voices = conversation()
    engine.preload([model])
    transcribe_seconds, diarize_seconds, speakers = [], [], 0
    for run in range(runs + 1):  # the first of each is a warm-up (the encoder loads there)
        started = time.perf_counter()
        result = engine.transcribe(samples, model_id=model, word_timestamps=True)
        transcribed = time.perf_counter() - started
        started = time.perf_counter()
        turns = diarization.diarize(
            samples, regions=[(s["start"], s["end"]) for s in result.segments]
        )
        diarized = time.perf_counter() - started
        speakers = len({turn.speaker for turn in turns})
        if run:
            transcribe_seconds.append(transcribed)
            diarize_seconds.append(diarized)
        progress(
            f"diarization: run {run}: transcribe {transcribed:.2f} s, diarize {diarized:.2f} s"
        )
    share = float(np.median(diarize_seconds) / np.median(transcribe_seconds))
    return {
        "audio_seconds": round(len(samples) / SAMPLE_RATE, 1),
        "model": model,
        "voices": voices,
        "speakers_found": speakers,
        "transcribe_seconds": transcribe_seconds,
        "diarize_seconds": diarize_seconds,
        "share": share,
        "target": {"limit": TARGET, "met": share <= TARGET},
    }
