"""A realtime session of the load: the load's clip streamed at the pace it plays to
`/v1/realtime?intent=transcription` by the official SDK's realtime client
(tools.realtime_client), its outcome classified as load.py classifies the others:

    ok                      every committed turn completed
    realtime <code>         an `error` event, or a turn's `...transcription.failed` (retryable:
                            the client hears why, and starts again)
    cut                     the connection ended before the client was done with it (the
                            SDK raises a connection error; a client reconnects)
    realtime <status>       the websocket's handshake refused with an HTTP status
    hang                    turns still open at the client's timeout
"""

import time
from functools import cache

from tools.live_platform import BASE_DIR
from tools.realtime_client import RATES, encode, load_samples, session_config, stream

from .load import CLIP_SECONDS, Answer

FAILED = "conversation.item.input_audio_transcription.failed"
COMPLETED = "conversation.item.input_audio_transcription.completed"
# Silence after the speech, so that server VAD ends the turn.
TRAILING_SILENCE = 1.0


@cache
def realtime_audio() -> bytes:
    rate = RATES["audio/pcm"]
    samples = load_samples(BASE_DIR / "tests" / "data" / "jfk.flac", rate)
    import numpy as np

    speech = samples[: int(CLIP_SECONDS * rate)]
    silence = np.zeros(int(TRAILING_SILENCE * rate), dtype="<i2")
    return encode(np.concatenate([speech, silence]), "audio/pcm")


def realtime_session(*, api_base: str, key: str, tenant: str, timeout: float) -> Answer:
    started = time.monotonic()

    def answer(outcome: str, retryable: bool) -> Answer:
        return Answer(tenant, "realtime", started, time.monotonic(), outcome, retryable)

    try:
        run = stream(
            base_url=api_base,
            api_key=key,
            audio=realtime_audio(),
            session=session_config(model="tiny.en", vad={"silence_duration_ms": 500}),
            timeout=timeout,
        )
    except Exception as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status is not None:  # the handshake answered with a status, not a websocket
            return answer(f"realtime {status}", status in (429, 500, 502, 503, 504))
        # A connection reset, closed, or refused: what a cut web process leaves.
        return answer("cut", True)
    for kind in ("error", FAILED):
        for event in run.of_type(kind):
            return answer(f"realtime {(event.get('error') or {}).get('code')}", True)
    committed = {e["item_id"] for e in run.of_type("input_audio_buffer.committed")}
    completed = {e["item_id"] for e in run.of_type(COMPLETED)}
    if run.cut:
        return answer("cut", True)
    if committed - completed:
        return answer("hang", False)
    if not completed:
        return answer("realtime no turn", False)
    return answer("ok", True)
