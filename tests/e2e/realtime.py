"""What the realtime e2e modules share: the event names, a raw `websockets` client of
`/v1/realtime?intent=transcription`, jfk.flac as the 24 kHz PCM the SDK sends, and each turn's
deltas joined as a client joins them."""

import json
import time

import websockets.sync.client

from tests.audio import JFK, words
from tools.realtime_client import audio_bytes

COMPLETED = "conversation.item.input_audio_transcription.completed"
DELTA = "conversation.item.input_audio_transcription.delta"
FAILED = "conversation.item.input_audio_transcription.failed"
JFK_PCM = None


def jfk_pcm() -> bytes:
    global JFK_PCM
    if JFK_PCM is None:
        JFK_PCM = audio_bytes(JFK)
    return JFK_PCM


def ws_url(platform) -> str:
    return platform.api_base.replace("http://", "ws://") + "/realtime?intent=transcription"


def raw(platform, key: str | None, **options):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return websockets.sync.client.connect(
        ws_url(platform), additional_headers=headers, open_timeout=10, **options
    )


def receive(ws, kind: str, timeout: float = 30.0) -> dict:
    """The next event of this type (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        event = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if event["type"] == kind:
            return event


def deltas_joined(run) -> list[tuple[str, str]]:
    """Per completed turn of a run (tools.realtime_client.Run), in order: its deltas joined
    (concatenated, as a client showing them does) and its `completed` transcript. OpenAI's
    deltas add up to the transcript: the two are equal."""
    joined: dict[str, str] = {}
    for _, event in run.events:
        if event["type"] == DELTA:
            joined[event["item_id"]] = joined.get(event["item_id"], "") + event["delta"]
    return [(joined.get(e["item_id"], ""), e["transcript"]) for e in run.of_type(COMPLETED)]


def word_errors(hypothesis: str, reference: str) -> float:
    import jiwer

    return jiwer.wer(" ".join(words(reference)), " ".join(words(hypothesis)))
