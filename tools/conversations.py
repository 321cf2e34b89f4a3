"""The accuracy scenario's conversations: real voices from public recordings taking turns of 1-5 s,
at levels up to 10 dB apart, some turns starting before the previous one ends, one speaker with
less than 2 s of speech. Built the same way every time (`manage.py build_conversations`) from:

- Debian's Asterisk prompt packages, extracted with `dpkg-deb -x` into the sources directory
  (each prompt's text is the package's own list of what the prompt says);
- pocketsphinx's source distribution on PyPI (`pocketsphinx-5.1.1.tar.gz`, read as it is), whose
  test data holds a LibriVox reading (public domain, with its text) and CMU's test recordings.

Each conversation is written as 16 kHz mono Opus in Ogg beside its ground truth (JSON): every
turn's speaker, start, end (of the voice, leading and trailing silence trimmed) and text. The
built files are committed (transcriptions/benchmark_data/conversations, licences in its NOTICE):
the benchmark and the tests read those, never the sources.
"""

import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .longaudio import DATA, SAMPLE_RATE

CONVERSATIONS_DIR = DATA / "conversations"
POCKETSPHINX_VERSION = "5.1.1"
POCKETSPHINX = f"pocketsphinx-{POCKETSPHINX_VERSION}.tar.gz"
_PS = f"{POCKETSPHINX}:pocketsphinx-{POCKETSPHINX_VERSION}/test/data/"
_ALLISON = "usr/share/asterisk/sounds/en_US_f_Allison/"
DEBIAN_PACKAGES = ("asterisk-core-sounds-en-g722", "asterisk-core-sounds-en")
# Each voice's speech is first brought to this level (active speech only), then moved by the
# conversation's gain for that voice.
LEVEL_DBFS = -26.0
FRAME = SAMPLE_RATE // 100  # 10 ms
# A clip's voice starts and ends where its 10 ms frames come within this many dB of its loudest.
TRIM_DB = 35.0
TRIM_PAD = 0.05


@dataclass(frozen=True)
class Source:
    """One recording of one voice: where it is in the sources directory (`archive:member` for
    a file inside a tar.gz) and what it says, when its publisher says so (None: the bare
    engine's pass on the clip alone gives the reference text)."""

    voice: str
    path: str
    text: str | None = None


SOURCES = {
    # Allison Smith, Asterisk's core prompts (CC BY-SA 3.0); texts from core-sounds-en.txt.
    "a-placed": Source(
        "allison",
        _ALLISON + "conf-placeintoconf.g722",
        "You will now be placed into the conference.",
    ),
    "a-only-one": Source(
        "allison",
        _ALLISON + "confbridge-only-one.g722",
        "There is currently one other participant in the conference.",
    ),
    "a-weasels": Source(
        "allison", _ALLISON + "tt-weasels.g722", "Weasels have eaten our phone system"
    ),
    "a-nomatch": Source(
        "allison",
        _ALLISON + "demo-nomatch.g722",
        "I'm sorry there are no matches for those keywords",
    ),
    "a-monkeys": Source(
        "allison", _ALLISON + "tt-monkeysintro.g722", "They have been carried away by monkeys"
    ),
    "a-hold": Source(
        "allison", _ALLISON + "pls-hold-while-try.g722", "Please hold while we try to connect you."
    ),
    "a-later": Source(
        "allison", _ALLISON + "please-try-call-later.g722", "Please try your call again later."
    ),
    "a-wrong": Source(
        "allison", _ALLISON + "something-terribly-wrong.g722", "Something is terribly wrong!"
    ),
    "a-recorded": Source(
        "allison", _ALLISON + "conf-now-recording.g722", "The conference is now being recorded."
    ),
    "a-moment": Source("allison", _ALLISON + "one-moment-please.g722", "One moment, please."),
    "a-check": Source(
        "allison",
        _ALLISON + "check-number-dial-again.g722",
        "Please check the number and dial again.",
    ),
    "a-dialed": Source(
        "allison",
        _ALLISON + "cannot-complete-as-dialed.g722",
        "Your call cannot be completed as dialed.",
    ),
    "a-thanks": Source("allison", _ALLISON + "queue-thankyou.g722", "Thank you for your patience"),
    "a-leader": Source(
        "allison",
        _ALLISON + "conf-waitforleader.g722",
        "The conference will begin when the leader arrives.",
    ),
    "a-echo": Source(
        "allison", _ALLISON + "demo-echodone.g722", "The echo test has been completed."
    ),
    "a-feature": Source(
        "allison",
        _ALLISON + "feature-not-avail-line.g722",
        "That feature is not available on this line.",
    ),
    # A LibriVox reader of Sense and Sensibility (public domain), as pocketsphinx's tests keep
    # it, with their texts.
    "l-0880": Source(
        "librivox",
        _PS + "librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
        "he was not an ill disposed young man",
    ),
    "l-0890": Source(
        "librivox",
        _PS + "librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
        "unless to be rather cold hearted and rather selfish is to be ill disposed",
    ),
    "l-0920": Source(
        "librivox",
        _PS + "librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
        "had he married a more amiable woman he might have been made still more "
        "respectable than he was",
    ),
    "l-0930": Source(
        "librivox",
        _PS + "librivox/sense_and_sensibility_01_austen_64kb-0930.wav",
        "he might even have been made amiable himself",
    ),
    # CMU's test recordings in pocketsphinx (BSD): the cards' texts are cards.transcription's,
    # goforward's is what pocketsphinx's decoder tests expect of it.
    "c-001": Source("cards", _PS + "cards/001.wav", "ten of clubs"),
    "c-002": Source("cards", _PS + "cards/002.wav", "four queen of clubs"),
    "c-003": Source("cards", _PS + "cards/003.wav", "seven of clubs"),
    "c-004": Source("cards", _PS + "cards/004.wav", "five five"),
    "c-005": Source(
        "cards", _PS + "cards/005.wav", "eight of spades four of clubs seven of hearts"
    ),
    "g-forward": Source("goforward", _PS + "goforward.raw", "go forward ten meters"),
    "f-4": Source("forever", _PS + "forever/input_4_16k.wav"),
}


@dataclass(frozen=True)
class Turn:
    source: str
    gap: float  # seconds after the previous turn's end; negative: it starts before that


@dataclass(frozen=True)
class Conversation:
    name: str
    gains: dict[str, float]  # dB per voice, against LEVEL_DBFS
    turns: tuple[Turn, ...]
    lead: float = 0.6  # silence before the first turn and after the last


CONVERSATIONS = (
    # About 44 s, three voices: Allison, the LibriVox reader 6 dB under her, and the cards
    # speaker 4 dB over her with one turn of 1.1 s; two turns start before the previous ends.
    Conversation(
        name="three-voices",
        gains={"allison": 0.0, "librivox": -6.0, "cards": 4.0},
        turns=(
            Turn("a-placed", 0.0),
            Turn("l-0880", 0.5),
            Turn("a-only-one", -0.4),
            Turn("l-0890", 0.6),
            Turn("a-weasels", 0.4),
            Turn("l-0930", -0.3),
            Turn("a-nomatch", 0.7),
            Turn("a-monkeys", 0.5),
            Turn("c-001", 0.5),
            Turn("a-later", 0.3),
            Turn("a-check", 0.6),
            Turn("a-feature", 0.9),
            Turn("a-dialed", 0.4),
            Turn("a-moment", 0.5),
        ),
    ),
    # About 22 s, four voices 10 dB apart, turns of 1.9-4.6 s, two overlaps.
    Conversation(
        name="four-voices",
        gains={"allison": 0.0, "cards": -4.0, "goforward": 4.0, "forever": -6.0},
        turns=(
            Turn("a-hold", 0.0),
            Turn("g-forward", 0.4),
            Turn("c-002", -0.3),
            Turn("f-4", 0.5),
            Turn("a-recorded", 0.3),
            Turn("c-005", -0.5),
            Turn("a-leader", 0.6),
        ),
    ),
    # About 16 s, two voices 10 dB apart: the quieter one's turns are 1.2-2 s.
    Conversation(
        name="two-voices",
        gains={"allison": 0.0, "cards": -10.0},
        turns=(
            Turn("a-thanks", 0.0),
            Turn("c-003", 0.3),
            Turn("a-wrong", -0.3),
            Turn("c-004", 0.4),
            Turn("a-echo", 0.5),
            Turn("c-002", 0.4),
            Turn("a-moment", 0.6),
        ),
    ),
)


# --- Building ---------------------------------------------------------------------------------


def read_source(sources: Path, source: Source) -> np.ndarray:
    """The recording as 16 kHz mono float32: decoded with PyAV as faster-whisper decodes (the
    Asterisk prompts are raw G.722, named by their extension), pocketsphinx's `.raw` files as
    the 16 kHz 16-bit little-endian samples they are."""
    from faster_whisper import decode_audio

    archive, _, member = source.path.partition(":")
    if not member:
        return decode_audio(str(sources / archive), sampling_rate=SAMPLE_RATE)
    with tarfile.open(sources / archive) as tar:
        extracted = tar.extractfile(member)
        if extracted is None:
            raise FileNotFoundError(f"{member} is not a file in {archive}")
        data = extracted.read()
    if member.endswith(".raw"):
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE)


def _frame_db(samples: np.ndarray) -> np.ndarray:
    frames = len(samples) // FRAME
    power = np.mean(samples[: frames * FRAME].reshape(frames, FRAME).astype(np.float64) ** 2, 1)
    return 10 * np.log10(power + 1e-12)


def trim(samples: np.ndarray) -> np.ndarray:
    """The voice alone: leading and trailing frames quieter than TRIM_DB below the loudest cut
    off, TRIM_PAD kept on each side."""
    db = _frame_db(samples)
    loud = np.flatnonzero(db >= db.max() - TRIM_DB)
    pad = round(TRIM_PAD * SAMPLE_RATE)
    start = max(0, loud[0] * FRAME - pad)
    return samples[start : min(len(samples), (loud[-1] + 1) * FRAME + pad)]


def speech_level(samples: np.ndarray) -> float:
    """dBFS of the active speech: the mean power of the frames within 30 dB of the loudest."""
    db = _frame_db(samples)
    active = db[db >= db.max() - 30.0]
    return float(10 * np.log10(np.mean(10 ** (active / 10))))


def mix(conversation: Conversation, clips: dict[str, np.ndarray]) -> tuple[np.ndarray, list]:
    """The conversation's samples and its turns as (source key, start, end) in seconds: each
    clip at LEVEL_DBFS plus its voice's gain, placed `gap` after the previous turn's end."""
    placed = []
    position = conversation.lead
    for index, turn in enumerate(conversation.turns):
        start = position + (turn.gap if index else 0.0)
        clip = clips[turn.source]
        end = start + len(clip) / SAMPLE_RATE
        placed.append((turn.source, start, end))
        position = max(position, end)
    total = round((position + conversation.lead) * SAMPLE_RATE)
    audio = np.zeros(total, dtype=np.float64)
    for key, start, _ in placed:
        clip = clips[key]
        gain = LEVEL_DBFS + conversation.gains[SOURCES[key].voice] - speech_level(clip)
        first = round(start * SAMPLE_RATE)
        audio[first : first + len(clip)] += clip * 10 ** (gain / 20)
    return np.clip(audio, -1.0, 1.0).astype(np.float32), placed


def write_ogg(path: Path, samples: np.ndarray, bit_rate: int = 32_000) -> None:
    """16 kHz mono Opus in Ogg with PyAV, the same bytes for the same samples (bitexact: no
    random stream serial number, no encoder version in the tags)."""
    import av

    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype(np.int16)
    with av.open(str(path), "w", format="ogg", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libopus", rate=SAMPLE_RATE, layout="mono")
        stream.bit_rate = bit_rate
        step = 960
        for start in range(0, len(pcm), step):
            chunk = pcm[start : start + step][np.newaxis, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def ground_truth(
    conversation: Conversation, placed: list, texts: dict[str, str], seconds: float
) -> dict:
    turns = [
        {
            "speaker": SOURCES[key].voice,
            "start": round(start, 3),
            "end": round(end, 3),
            "text": texts[key],
            "text_from": "publisher" if SOURCES[key].text is not None else "bare engine",
            "source": SOURCES[key].path,
        }
        for key, start, end in placed
    ]
    speakers = {}
    for turn in turns:
        speaker = speakers.setdefault(
            turn["speaker"], {"gain_db": conversation.gains[turn["speaker"]], "seconds": 0.0}
        )
        speaker["seconds"] = round(speaker["seconds"] + turn["end"] - turn["start"], 3)
    return {
        "name": conversation.name,
        "audio": f"{conversation.name}.ogg",
        "seconds": round(seconds, 3),
        "speakers": speakers,
        "turns": turns,
        "reference": " ".join(turn["text"] for turn in turns),
    }


def build(
    sources: Path,
    out: Path,
    *,
    transcribe: Callable[[np.ndarray], str],
    conversations: tuple[Conversation, ...] = CONVERSATIONS,
) -> list[Path]:
    """Write each conversation's `.ogg` and `.json` into `out`; `transcribe` gives the text of a
    source clip whose publisher gives none (the bare engine's pass on it alone)."""
    out.mkdir(parents=True, exist_ok=True)
    keys = {turn.source for conversation in conversations for turn in conversation.turns}
    clips = {key: trim(read_source(sources, SOURCES[key])) for key in sorted(keys)}
    texts = {key: SOURCES[key].text or transcribe(clips[key]).strip() for key in sorted(keys)}
    written = []
    for conversation in conversations:
        audio, placed = mix(conversation, clips)
        path = out / f"{conversation.name}.ogg"
        write_ogg(path, audio)
        truth = ground_truth(conversation, placed, texts, len(audio) / SAMPLE_RATE)
        (out / f"{conversation.name}.json").write_text(json.dumps(truth, indent=1) + "\n")
        written += [path, out / f"{conversation.name}.json"]
    return written


def load(directory: Path = CONVERSATIONS_DIR) -> list[tuple[Path, dict]]:
    """The built conversations: each one's audio file and ground truth, by name."""
    found = []
    for truth_path in sorted(directory.glob("*.json")):
        truth = json.loads(truth_path.read_text())
        found.append((directory / truth["audio"], truth))
    return found
