"""Speaker diarization on many random conversations: real voices from the audio committed in the
repository, cut into utterances and mixed, for each seed the same way, into conversations of 2,
3 or 4 voices, each one diarized (speech.diarization.diarize) and scored against the turns it
was built from (tools.accuracy_metrics.diarization_accuracy). A development harness, beside the
benchmark's three fixed conversations: `python -m tools.speaker_mixes [--mixes N] [--seed S]
[--hold-out] [--voices a,b,c] [--json FILE]`.

The voices (all 16 kHz, decoded as faster-whisper decodes):

- the benchmark's built conversations (transcriptions/benchmark_data/conversations): each turn's
  time that no other turn overlaps, one piece per source recording (the longest): allison,
  librivox, cards, goforward, forever;
- tests/data: june.ogg (june) and allison.ogg (Allison Smith's demo-congrats, the Asterisk voice
  of the conversations' prompts, per tests/data/NOTICE: allison);
- transcriptions/benchmark_data: jfk.flac (jfk), hotwords.mp3 (hotwords), multilingual.mp3 (one
  reader: English to 29.1 s, German from 31.0 s: mit).

The reader of multilingual.mp3 is two parts, mit/en and mit/de, and a mix takes one: a speaker
encoder may put one reader's two languages as far apart as two people, and whether they are one
reader is not known for sure, so a mix's truth holds either way. Each voice's material is cut at Silero's pauses, pieces over
MAX_CLIP at their quietest point, each trimmed of silence; clips of MIN_CLIP to MAX_CLIP are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np

from .conversations import CONVERSATIONS_DIR, FRAME, LEVEL_DBFS, speech_level, trim
from .longaudio import DATA, SAMPLE_RATE

ROOT = Path(__file__).resolve().parent.parent
TESTS_DATA = ROOT / "tests" / "data"
# (voice, file, start, end in seconds or None: to the end) of the single-voice recordings.
RECORDINGS = (
    ("june", TESTS_DATA / "june.ogg", 0.0, None),
    ("allison", TESTS_DATA / "allison.ogg", 0.0, None),
    ("jfk", DATA / "jfk.flac", 0.0, None),
    ("hotwords", DATA / "hotwords.mp3", 0.0, None),
    ("mit/en", DATA / "multilingual.mp3", 0.0, 29.1),
    ("mit/de", DATA / "multilingual.mp3", 31.0, None),
)
MIN_CLIP, MAX_CLIP = 0.8, 5.0  # seconds: a turn is one clip
MIN_PIECE = 1.0  # a long utterance is cut into pieces no shorter than this
SHORT_TURN = 2.0  # the rare speaker's single turn is shorter than this
LEAD = 0.6  # silence before the first turn and after the last
GAPS = (-0.4, 0.9)  # seconds from one turn's end to the next one's start (negative: overlap)
SAME_SPEAKER_GAP = 0.2  # a speaker never overlaps itself: its next turn waits at least this
SPREAD_DB = 10.0  # the voices' levels lie within this many dB of each other
TURNS = (6, 14)
VOICE_COUNTS = (2, 3, 4)
SWITCH = 0.85  # the chance that the next turn is another speaker's
RARE_SHARE = 1 / 3  # the share of mixes in which one speaker has a single short turn
HOLD_OUT = 1000  # --hold-out: the seed moved by this, a stream no tuning run has seen
PASS = 0.90  # the accuracy under which a mix is counted as failed in the summary


@dataclass(frozen=True)
class Mix:
    index: int
    seed: int
    voices: tuple[str, ...]
    gains: dict[str, float]  # dB against LEVEL_DBFS
    turns: tuple[tuple[str, float, float], ...]  # (voice, start, end) in seconds
    clips: tuple[int, ...]  # each turn's clip: its index in the voice's list
    seconds: float
    rare: str | None  # the voice with a single turn under SHORT_TURN, where the mix has one
    parts: dict[str, str]  # each voice's clips: the part of it (`voices()`' key) the mix uses


# --- Voices -----------------------------------------------------------------------------------


def _decode(path: Path) -> np.ndarray:
    from faster_whisper import decode_audio

    return decode_audio(str(path), sampling_rate=SAMPLE_RATE)


def _span(samples: np.ndarray, start: float, end: float | None) -> np.ndarray:
    last = len(samples) if end is None else round(end * SAMPLE_RATE)
    return samples[round(start * SAMPLE_RATE) : last]


def _clean_spans(turns: list[dict]) -> list[tuple[str, str, float, float]]:
    """(voice, source, start, end) of each turn's longest stretch that no other turn overlaps."""
    found = []
    for index, turn in enumerate(turns):
        pieces = [(turn["start"], turn["end"])]
        for other in turns[:index] + turns[index + 1 :]:
            pieces = [
                (s, e)
                for start, end in pieces
                for s, e in ((start, min(end, other["start"])), (max(start, other["end"]), end))
                if e > s
            ]
        if pieces:
            start, end = max(pieces, key=lambda p: p[1] - p[0])
            found.append((turn["speaker"], turn["source"], start, end))
    return found


def material() -> dict[str, list[np.ndarray]]:
    """Each voice's recordings (clean speech only), by voice."""
    by_voice: dict[str, list[np.ndarray]] = {}
    longest: dict[str, tuple[str, float, np.ndarray]] = {}
    for truth_path in sorted(CONVERSATIONS_DIR.glob("*.json")):
        truth = json.loads(truth_path.read_text())
        audio = _decode(CONVERSATIONS_DIR / truth["audio"])
        for voice, source, start, end in _clean_spans(truth["turns"]):
            if source not in longest or end - start > longest[source][1]:
                longest[source] = (voice, end - start, _span(audio, start, end))
    for source in sorted(longest):
        voice, _, samples = longest[source]
        by_voice.setdefault(voice, []).append(samples)
    for voice, path, start, end in RECORDINGS:
        by_voice.setdefault(voice, []).append(_span(_decode(path), start, end))
    return by_voice


def _split(samples: np.ndarray) -> list[np.ndarray]:
    """Pieces of at most MAX_CLIP, each at least MIN_PIECE, cut at the quietest 50 ms."""
    if len(samples) <= MAX_CLIP * SAMPLE_RATE:
        return [samples]
    frames = len(samples) // FRAME
    power = np.mean(samples[: frames * FRAME].reshape(frames, FRAME).astype(np.float64) ** 2, 1)
    smoothed = np.convolve(power, np.ones(5) / 5, mode="same")
    edge = round(MIN_PIECE * SAMPLE_RATE / FRAME)
    cut = (edge + int(np.argmin(smoothed[edge : frames - edge]))) * FRAME
    return _split(samples[:cut]) + _split(samples[cut:])


def utterances(samples: np.ndarray) -> list[np.ndarray]:
    """The recording's clips: Silero's speech regions cut into pieces, trimmed, MIN_CLIP to
    MAX_CLIP seconds long."""
    from faster_whisper import vad

    options = vad.VadOptions(min_silence_duration_ms=250, speech_pad_ms=150)
    regions = vad.get_speech_timestamps(samples, options, sampling_rate=SAMPLE_RATE)
    clips = []
    for region in regions:
        for piece in _split(samples[region["start"] : region["end"]]):
            clip = trim(piece)
            if MIN_CLIP * SAMPLE_RATE <= len(clip) <= MAX_CLIP * SAMPLE_RATE:
                clips.append(clip)
    return clips


@cache
def voices() -> dict[str, tuple[np.ndarray, ...]]:
    """Every voice's clips, each brought to LEVEL_DBFS (active speech), by voice name."""
    found = {}
    for voice, recordings in sorted(material().items()):
        clips = [clip for samples in recordings for clip in utterances(samples)]
        found[voice] = tuple(
            (clip * 10 ** ((LEVEL_DBFS - speech_level(clip)) / 20)).astype(np.float32)
            for clip in clips
        )
    return found


# --- Mixes ------------------------------------------------------------------------------------


def people(pool: dict) -> list[str]:
    """The voices of the pool's entries (`voice` or `voice/part`)."""
    return sorted({name.split("/")[0] for name in pool})


def _draw_cast(rng: np.random.Generator, pool: dict, count: int, wanted: int) -> tuple:
    """The mix's voices, its rare speaker (one short turn) or None, each voice's part of the
    pool and its clips in the order the mix may use them: redrawn (up to 100 times) until they
    hold `wanted` turns."""
    names = people(pool)
    for _ in range(100):
        cast = tuple(str(name) for name in rng.choice(names, count, replace=False))
        parts = {
            voice: str(rng.choice([n for n in sorted(pool) if n.split("/")[0] == voice]))
            for voice in cast
        }
        clips = {voice: pool[parts[voice]] for voice in cast}
        order = {voice: [int(i) for i in rng.permutation(len(clips[voice]))] for voice in cast}
        rare = None
        if rng.random() < RARE_SHARE:
            short = [v for v in cast if any(len(c) < SHORT_TURN * SAMPLE_RATE for c in clips[v])]
            if short:
                rare = str(rng.choice(short))
                order[rare] = [
                    i for i in order[rare] if len(clips[rare][i]) < SHORT_TURN * SAMPLE_RATE
                ]
                order[rare] = order[rare][:1]
        # Enough clips for the turns, and (but where one voice has one turn) for turns that
        # change speaker each time: the most frequent voice's never two in a row.
        counts = sorted(len(indexes) for indexes in order.values())
        rest = sum(counts[:-1])
        if sum(counts) >= wanted and (rare or rest + min(counts[-1], rest + 1) >= wanted):
            break
    return cast, rare, parts, order


def _speakers(rng: np.random.Generator, cast: tuple, order: dict, turns: int) -> list[str]:
    """Who speaks each turn: every voice at least once, mostly another voice than the last."""
    left = {voice: list(clips) for voice, clips in order.items()}
    sequence: list[str] = []
    for position in range(turns):
        available = [v for v in cast if left[v]]
        if not available:
            break
        unseen = [v for v in available if v not in sequence]
        if len(unseen) >= turns - position:
            candidates = unseen
        else:
            previous = sequence[-1] if sequence else None
            others = [v for v in available if v != previous]
            switch = rng.random() < SWITCH
            candidates = others if others and (switch or previous not in available) else [previous]
        voice = str(rng.choice(candidates))
        sequence.append(voice)
        left[voice].pop(0)
    return sequence


def make_mix(index: int, seed: int, pool: dict[str, tuple[np.ndarray, ...]]) -> tuple:
    """The index-th mix of a seed's stream (its own generator: the same whatever the number of
    mixes asked for) from the voices' clips (`voices()` or a subset): (Mix, samples)."""
    rng = np.random.default_rng([seed, index])
    counts = [c for c in VOICE_COUNTS if c <= len(people(pool))] or [len(people(pool))]
    wanted = int(rng.integers(TURNS[0], TURNS[1] + 1))
    cast, rare, parts, order = _draw_cast(rng, pool, counts[index % len(counts)], wanted)
    # The loudest voice D dB over the quietest (D up to SPREAD_DB), the others between them.
    width = float(rng.uniform(0.0, SPREAD_DB))
    levels = np.concatenate([[0.0, 1.0], rng.uniform(0.0, 1.0, len(cast) - 2)])
    gains = {
        v: round(width * (level - 0.5), 1) + 0.0 for v, level in zip(cast, levels, strict=True)
    }
    sequence = _speakers(rng, cast, order, min(wanted, sum(map(len, order.values()))))
    placed, used = [], []
    position = LEAD
    for turn, voice in enumerate(sequence):
        clip_index = order[voice][sum(1 for v in sequence[:turn] if v == voice)]
        if turn:
            low = SAME_SPEAKER_GAP if voice == sequence[turn - 1] else GAPS[0]
            position += float(rng.uniform(low, GAPS[1]))
        first = round(position * SAMPLE_RATE)
        clip = pool[parts[voice]][clip_index]
        placed.append((voice, first, clip))
        used.append(clip_index)
        position = max(position, (first + len(clip)) / SAMPLE_RATE)
    audio = np.zeros(round((position + LEAD) * SAMPLE_RATE), dtype=np.float64)
    for voice, first, clip in placed:
        audio[first : first + len(clip)] += clip * 10 ** (gains[voice] / 20)
    turns = tuple(
        (voice, first / SAMPLE_RATE, (first + len(clip)) / SAMPLE_RATE)
        for voice, first, clip in placed
    )
    seconds = len(audio) / SAMPLE_RATE
    mix = Mix(index, seed, cast, gains, turns, tuple(used), seconds, rare, parts)
    return mix, np.clip(audio, -1.0, 1.0).astype(np.float32)


def select(names: str | None) -> dict[str, tuple[np.ndarray, ...]]:
    """The voices' clips, all or those of the voices named (comma-separated)."""
    pool = voices()
    if not names:
        return pool
    wanted = {name.strip() for name in names.split(",") if name.strip()}
    unknown = sorted(wanted - set(people(pool)))
    if unknown or len(wanted) < 2:
        raise SystemExit(f"--voices: two or more of {', '.join(people(pool))} (not {unknown})")
    return {name: clips for name, clips in pool.items() if name.split("/")[0] in wanted}


# --- Scoring ----------------------------------------------------------------------------------


def configure_engine() -> None:
    """The engine's settings without Django: only the speaker encoder's cache is read (the
    weights in WHISPER_CACHE_DIR, var/models by default, as config/settings/speech.py has it)."""
    import speech

    cache_dir = Path(os.environ.get("WHISPER_CACHE_DIR") or ROOT / "var" / "models")
    speech.configure(speech.EngineConfig(models={}, cache_dir=cache_dir))


def score(mix: Mix, samples: np.ndarray) -> dict:
    """The mix diarized (no Whisper segments: regions=None) and scored against its turns."""
    from speech.diarization import diarize

    from .accuracy_metrics import diarization_accuracy

    started = time.perf_counter()
    turns = diarize(samples)
    elapsed = time.perf_counter() - started
    labelled = [(turn.speaker, turn.start, turn.end) for turn in turns]
    accuracy, mapping = diarization_accuracy(list(mix.turns), labelled, mix.seconds)
    return {
        **asdict(mix),
        "turns": [[voice, round(start, 3), round(end, 3)] for voice, start, end in mix.turns],
        "seconds": round(mix.seconds, 3),
        "accuracy": round(accuracy, 4),
        "speakers_found": len({turn.speaker for turn in turns}),
        "speakers_true": len(mix.voices),
        "mapping": mapping,
        "labelled": [[name, start, end] for name, start, end in labelled],
        "diarize_seconds": round(elapsed, 3),
    }


def summarize(results: list[dict]) -> dict:
    """Mean and min accuracy, mixes under PASS and the speaker counts, by number of voices and
    overall."""
    groups: dict[str, list[dict]] = {}
    for result in results:
        groups.setdefault(str(result["speakers_true"]), []).append(result)
    groups["all"] = results
    summary = {}
    for name, group in groups.items():
        accuracies = [r["accuracy"] for r in group]
        found = [r["speakers_found"] - r["speakers_true"] for r in group]
        summary[name] = {
            "mixes": len(group),
            "mean": round(statistics.fmean(accuracies), 4),
            "min": round(min(accuracies), 4),
            "under_90": sum(1 for a in accuracies if a < PASS),
            "speakers_right": sum(1 for f in found if f == 0),
            "speakers_over": sum(1 for f in found if f > 0),
            "speakers_under": sum(1 for f in found if f < 0),
        }
    return summary


def run(mixes: int, seed: int, pool: dict, out=print) -> dict:
    """Build, diarize and score `mixes` mixes of the seed's stream, printing one line each and
    the summary; returns every figure."""
    configure_engine()
    results = []
    for index in range(mixes):
        mix, samples = make_mix(index, seed, pool)
        result = score(mix, samples)
        results.append(result)
        out(
            f"{index:4d}  {','.join(sorted(mix.voices)):34s} {mix.seconds:5.1f} s "
            f"{100 * result['accuracy']:6.1f} %  speakers {result['speakers_found']}/"
            f"{result['speakers_true']}  ({result['diarize_seconds']:.1f} s)"
        )
    summary = summarize(results)
    out(f"\nseed {seed}, {mixes} mixes, voices: {', '.join(people(pool))}")
    out("voices  mixes   mean %   min %  under 90 %  speakers right/over/under")
    for name in sorted(summary, key=lambda n: (n == "all", n)):
        row = summary[name]
        out(
            f"{name:>6s}  {row['mixes']:5d}  {100 * row['mean']:7.1f}  {100 * row['min']:6.1f}  "
            f"{row['under_90']:10d}  {row['speakers_right']}/{row['speakers_over']}/"
            f"{row['speakers_under']}"
        )
    total = sum(r["diarize_seconds"] for r in results)
    audio = sum(r["seconds"] for r in results)
    out(f"diarize: {total:.1f} s for {audio:.0f} s of audio (the first call loads the encoder)")
    return {
        "seed": seed,
        "voices": people(pool),
        "summary": summary,
        "diarize_seconds": total,
        "mixes": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.speaker_mixes", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--mixes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--hold-out",
        action="store_true",
        help=f"the held-out stream: seed + {HOLD_OUT}, for a check after tuning",
    )
    parser.add_argument("--voices", help="comma-separated voices to draw from (default: all)")
    parser.add_argument("--json", type=Path, help="write every mix's figures to this file")
    args = parser.parse_args(argv)
    seed = args.seed + (HOLD_OUT if args.hold_out else 0)
    report = run(args.mixes, seed, select(args.voices))
    if args.json:
        args.json.write_text(json.dumps({**report, "hold_out": args.hold_out}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
