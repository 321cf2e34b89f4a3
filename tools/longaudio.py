"""The long scenario's file: about ten minutes of English speech built, always the same way,
from the clips in transcriptions/benchmark_data (faster-whisper's test data, MIT: see the
NOTICE there), with pauses of 1 to 3 s between them, written as 16 kHz mono FLAC; and its
reference text, the clips' reference texts in the same order."""

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent.parent / "transcriptions" / "benchmark_data"
SAMPLE_RATE = 16_000
TARGET_SECONDS = 600.0
# Pauses cycle through these (seconds): deterministic, but not one fixed gap.
PAUSES = (1.0, 2.5, 1.5, 3.0, 2.0)


@dataclass(frozen=True)
class Clip:
    name: str
    file: str
    reference: str
    end: float | None = None  # seconds: keep only the audio before this


JFK = Clip(
    name="jfk",
    file="jfk.flac",
    reference=(
        "And so, my fellow Americans, ask not what your country can do for you, ask what you "
        "can do for your country."
    ),
)
# Checked by ear-equivalent: Whisper base with the prompt "ComfyUI" and tiny.en with it agree on
# every word (tiny.en without the prompt only hears "comfy eye"). The clip ends mid-sentence.
HOTWORDS = Clip(
    name="hotwords",
    file="hotwords.mp3",
    reference="Then you go into your ComfyUI folder again in the ComfyUI.",
)
# multilingual.mp3 reads the MIT licence's permission paragraph in English, then in German.
# Word timestamps (Whisper base) put the last English word ("Software,") at 28.92 s and the
# first German one at 30.42 s; the audio between 29.1 s and 31.0 s is digital silence, so the
# cut at 29.5 s is clean. The reader leaves out the parenthesis (the "Software"): so does the
# reference.
MIT_ENGLISH = Clip(
    name="mit-licence-en",
    file="multilingual.mp3",
    end=29.5,
    reference=(
        "Permission is hereby granted, free of charge, to any person obtaining a copy of this "
        "software and associated documentation files, to deal in the Software without "
        "restriction, including without limitation the rights to use, copy, modify, merge, "
        "publish, distribute, sublicense, and/or sell copies of the Software, and to permit "
        "persons to whom the Software is furnished to do so, subject to the following "
        "conditions: The above copyright notice and this permission notice shall be included "
        "in all copies or substantial portions of the Software."
    ),
)
CLIPS = (JFK, HOTWORDS, MIT_ENGLISH)


@dataclass(frozen=True)
class Piece:
    """One clip's place in the built file, in seconds."""

    clip: str
    start: float
    end: float


@dataclass(frozen=True)
class LongAudio:
    path: Path
    reference: str
    seconds: float
    pieces: tuple[Piece, ...]


def clip_samples(clip: Clip) -> np.ndarray:
    """The clip as 16 kHz mono float32 (decoded with PyAV, as faster-whisper decodes)."""
    from faster_whisper import decode_audio

    samples = decode_audio(str(DATA / clip.file), sampling_rate=SAMPLE_RATE)
    if clip.end is not None:
        samples = samples[: round(clip.end * SAMPLE_RATE)]
    return samples


def pause_after(index: int) -> float:
    """The silence after the index-th clip of the file."""
    return PAUSES[index % len(PAUSES)]


def layout(
    durations: dict[str, float], target_seconds: float = TARGET_SECONDS
) -> tuple[Piece, ...]:
    """The clips in turn (CLIPS' order), each followed by its pause, until the file is at least
    `target_seconds` long; it ends with speech, not a pause."""
    pieces: list[Piece] = []
    position = 0.0
    for index, clip in enumerate(itertools.cycle(CLIPS)):
        if pieces:
            position += pause_after(index - 1)
        end = position + durations[clip.name]
        pieces.append(Piece(clip=clip.name, start=position, end=end))
        position = end
        if position >= target_seconds:
            return tuple(pieces)
    raise AssertionError("unreachable")


def write_flac(path: Path, samples: np.ndarray) -> None:
    """16-bit mono FLAC with PyAV."""
    import av

    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype(np.int16)
    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=SAMPLE_RATE, layout="mono")
        frame_size = 4096
        for start in range(0, len(pcm), frame_size):
            chunk = pcm[start : start + frame_size]
            frame = av.AudioFrame.from_ndarray(chunk[np.newaxis, :], format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def build(directory: Path, target_seconds: float = TARGET_SECONDS) -> LongAudio:
    """Write `long-english.flac` into `directory`; the same samples and text on every call."""
    samples = {clip.name: clip_samples(clip) for clip in CLIPS}
    references = {clip.name: clip.reference for clip in CLIPS}
    pieces = layout(
        {name: len(audio) / SAMPLE_RATE for name, audio in samples.items()}, target_seconds
    )
    total = round(pieces[-1].end * SAMPLE_RATE)
    audio = np.zeros(total, dtype=np.float32)
    for piece in pieces:
        start = round(piece.start * SAMPLE_RATE)
        clip = samples[piece.clip]
        audio[start : start + len(clip)] = clip[: total - start]
    path = Path(directory) / "long-english.flac"
    write_flac(path, audio)
    return LongAudio(
        path=path,
        reference=" ".join(references[piece.clip] for piece in pieces),
        seconds=total / SAMPLE_RATE,
        pieces=pieces,
    )
