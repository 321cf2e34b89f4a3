"""A file streamed to `/v1/realtime?intent=transcription` in real time with the official
`openai` SDK's realtime client, as a live caller would: the operators' `manage.py
realtime_stream`, the benchmark's realtime scenario and the e2e tests use it.

The file is decoded and resampled with PyAV to the session's input format (`audio/pcm`: 16-bit
24 kHz mono; `audio/pcmu` / `audio/pcma`: G.711 at 8 kHz), then sent in `chunk_ms` pieces at
the pace the audio plays (`pace` 1.0), followed by `trailing_silence` seconds of silence so
that server VAD sees the last turn end. Each event comes back with the moment it arrived.
"""

import base64
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

RATES = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}
CODECS = {"audio/pcmu": "pcm_mulaw", "audio/pcma": "pcm_alaw"}


def load_samples(path: Path | str, rate: int) -> np.ndarray:
    """The file's audio as int16 mono samples at `rate`."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    parts = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(parts).astype("<i2")


def encode(samples: np.ndarray, audio_format: str) -> bytes:
    """int16 samples at the format's rate as the bytes the session expects."""
    if audio_format == "audio/pcm":
        return samples.astype("<i2").tobytes()
    codec = av.CodecContext.create(CODECS[audio_format], "w")
    codec.sample_rate, codec.layout, codec.format = RATES[audio_format], "mono", "s16"
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = RATES[audio_format]
    return b"".join(bytes(packet) for packet in [*codec.encode(frame), *codec.encode(None)])


def audio_bytes(
    path: Path | str, audio_format: str = "audio/pcm", trailing_silence: float = 1.5
) -> bytes:
    rate = RATES[audio_format]
    samples = load_samples(path, rate)
    samples = np.concatenate([samples, np.zeros(int(trailing_silence * rate), dtype="<i2")])
    return encode(samples, audio_format)


def session_config(
    *,
    model: str = "tiny.en",
    audio_format: str = "audio/pcm",
    language: str | None = None,
    prompt: str | None = None,
    vad: dict | None = None,
    server_vad: bool = True,
    logprobs: bool = False,
) -> dict[str, Any]:
    """A `session.update`'s session (GA shape)."""
    transcription: dict[str, Any] = {"model": model}
    if language:
        transcription["language"] = language
    if prompt:
        transcription["prompt"] = prompt
    audio_input: dict[str, Any] = {
        "format": {
            "type": audio_format,
            **({"rate": 24000} if audio_format == "audio/pcm" else {}),
        },
        "transcription": transcription,
        "turn_detection": {"type": "server_vad", **(vad or {})} if server_vad else None,
    }
    session: dict[str, Any] = {"type": "transcription", "audio": {"input": audio_input}}
    if logprobs:
        session["include"] = ["item.input_audio_transcription.logprobs"]
    return session


@dataclass
class Run:
    """What came back: every event (as a dict) with the monotonic time it arrived, and when
    the audio started and ended going out."""

    events: list[tuple[float, dict]] = field(default_factory=list)
    started_at: float = 0.0
    sent_at: float = 0.0
    # The server closed the connection (or it was cut) before the client was done with it.
    cut: bool = False

    def of_type(self, kind: str) -> list[dict]:
        return [event for _, event in self.events if event["type"] == kind]

    def types(self) -> list[str]:
        return [event["type"] for _, event in self.events]

    @property
    def transcript(self) -> str:
        completed = self.of_type("conversation.item.input_audio_transcription.completed")
        return " ".join(event["transcript"].strip() for event in completed)

    def at(self, kind: str, item_id: str) -> float | None:
        for moment, event in self.events:
            if event["type"] == kind and event.get("item_id") == item_id:
                return moment
        return None


def _wait_for_turns(run: Run, *, commit: bool, deadline: float) -> None:
    """Until every committed turn has ended: with server VAD, after the trailing silence has
    had time to end the last turn; with a commit, after it was acknowledged (or refused)."""
    settle = run.sent_at + 0.3
    while time.monotonic() < deadline and not run.cut:
        acknowledged = (
            not commit or run.of_type("input_audio_buffer.committed") or run.of_type("error")
        )
        if time.monotonic() > settle and acknowledged and not _open_items(run):
            return
        time.sleep(0.02)


def _open_items(run: Run) -> int:
    committed = {e["item_id"] for e in run.of_type("input_audio_buffer.committed")}
    ended = {
        e["item_id"]
        for _, e in run.events
        if e["type"]
        in (
            "conversation.item.input_audio_transcription.completed",
            "conversation.item.input_audio_transcription.failed",
        )
    }
    return len(committed - ended)


def stream(
    *,
    base_url: str,
    api_key: str,
    audio: bytes,
    session: dict[str, Any],
    audio_format: str = "audio/pcm",
    pace: float = 1.0,
    chunk_ms: int = 100,
    commit: bool = False,
    timeout: float = 120.0,
    on_event: Callable[[float, dict], None] | None = None,
    stop_after_sent: bool = False,
    hold: Callable[[Run, float], bool] | None = None,
) -> Run:
    """Stream `audio` (bytes in `audio_format`) through the SDK's realtime client; return once
    the audio is sent and every committed turn has completed or failed (or at `timeout`).
    `commit`: send input_audio_buffer.commit after the audio (sessions without server VAD).
    `stop_after_sent`: close the connection as soon as the audio is out (an abrupt leave).
    `hold(run, seconds)`: asked before the piece that starts `seconds` into the audio; while it
    answers True the pieces go out at a tenth of the pace (a test waiting for an event, such as
    interim text, that a busy server sends later: the audio keeps coming, only slower)."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
    rate = RATES[audio_format]
    width = 2 if audio_format == "audio/pcm" else 1
    step = rate * width * chunk_ms // 1000
    run = Run()
    failure: list[BaseException] = []
    finished = threading.Event()  # the sender is done: its own close ends the iteration
    with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
        connection.session.update(session=session)

        def send() -> None:
            try:
                run.started_at = time.monotonic()
                behind = 0.0  # seconds the holds added
                for number, offset in enumerate(range(0, len(audio), step)):
                    piece = audio[offset : offset + step]
                    if hold is not None and hold(run, number * chunk_ms / 1000):
                        time.sleep(chunk_ms / 1000 * 9)
                        behind += chunk_ms / 1000 * 9
                    connection.input_audio_buffer.append(audio=base64.b64encode(piece).decode())
                    if pace:
                        # Against the clock, not per piece: the pace holds however long a send took.
                        due = run.started_at + behind + (number + 1) * chunk_ms / 1000 / pace
                        time.sleep(max(0.0, due - time.monotonic()))
                if commit:
                    connection.input_audio_buffer.commit()
                run.sent_at = time.monotonic()
                if not stop_after_sent:
                    _wait_for_turns(run, commit=commit, deadline=run.sent_at + timeout)
            except BaseException as error:  # reported by the caller's thread
                failure.append(error)
            finally:
                # Ends the iteration below.
                finished.set()
                connection.close()

        sender = threading.Thread(target=send, daemon=True)
        started = False
        with contextlib.suppress(Exception):  # the connection closed under the iteration
            for event in connection:
                moment = time.monotonic()
                data = event.to_dict() if hasattr(event, "to_dict") else dict(event)
                run.events.append((moment, data))
                if on_event is not None:
                    on_event(moment, data)
                if not started and data["type"] in ("session.updated", "error"):
                    started = True
                    sender.start()
        # Ended by the server's side: a sender still waiting for turns stops waiting.
        run.cut = not finished.is_set()
        if started:
            sender.join(timeout=timeout)
    if failure:
        raise failure[0]
    return run
