"""Live transcription (`/v1/realtime?intent=transcription`) billing and faults against a
running server with real workers: a quota that runs out mid-session, a client that vanishes
with a turn committed (its job cancelled, billed at most what was transcribed), interim text
read and never committed (billed as a preview)."""

import base64
import contextlib
import json
import socket
import time

import pytest

from tests.audio import JFK, JFK_TEXT, MULTILINGUAL, words
from tests.e2e.accounting import tenant_with_limits, usage_rows
from tests.e2e.realtime import COMPLETED, DELTA, FAILED, jfk_pcm, raw, receive
from tests.e2e.workers import wait_until, workers_paused
from tools.realtime_client import audio_bytes, load_samples, session_config, stream

pytestmark = pytest.mark.e2e


# About 20 s: audio streamed at its pace until the quota runs out mid-session; when it is the
# first to ask for the session's platform (platform_server), its setup starts that too.
def test_quota_runs_out_mid_session(platform_server):
    """A tenant with 5 seconds a month: the first turns pass, then `error` with
    insufficient_quota; the refused turns are logged, billed nothing and got no text."""
    customer = tenant_with_limits(platform_server, "thrifty", monthly_audio_seconds=5)
    run = stream(
        base_url=platform_server.api_base,
        api_key=customer.key,
        audio=jfk_pcm(),
        session=session_config(model="tiny.en"),
    )
    errors = run.of_type("error")
    assert errors, run.types()
    assert {e["error"]["code"] for e in errors} == {"insufficient_quota"}
    assert run.of_type(COMPLETED), "the turns within the quota were transcribed"
    failed = run.of_type(FAILED)
    assert len(failed) == len(errors)
    # Spoken once the quota was gone: not even interim text (previews need the quota too).
    refused = {event["item_id"] for event in failed}
    assert not [e for e in run.of_type(DELTA) if e["item_id"] in refused]
    rows = usage_rows(platform_server, customer.key)
    billed = sum(row[3] for row in rows if row[1] == 200)
    assert billed <= 5
    assert [row[1:] for row in rows if row[1] != 200] == [(429, "insufficient_quota", 0)] * len(
        errors
    )


def tenant_job(platform, slug: str) -> list[tuple]:
    """(status, worker) of the tenant's jobs."""
    return platform.query(
        "SELECT j.status, j.worker FROM transcriptions_job j JOIN accounts_tenant t "
        "ON t.id = j.tenant_id WHERE t.slug = %s ORDER BY j.id",
        (slug,),
    )


def test_abrupt_disconnect_cancels_the_turn_and_frees_the_worker(platform_server):
    """The client commits a turn and vanishes: its job is cancelled (not left running for
    nobody), and nothing is billed that was not transcribed."""
    customer = tenant_with_limits(platform_server, "leaver")
    # 55 s (a turn may be 60) with `base`: seconds of work; the workers are paused while it
    # runs (workers_paused), so the leave is always seen while the job runs.
    long_turn = audio_bytes(JFK, trailing_silence=0) * 5
    ws = raw(platform_server, customer.key)
    receive(ws, "session.created")
    config = session_config(model="base", server_vad=False)
    ws.send(json.dumps({"type": "session.update", "session": config}))
    receive(ws, "session.updated")
    step = 24000 * 2
    for offset in range(0, len(long_turn), step):
        piece = base64.b64encode(long_turn[offset : offset + step]).decode()
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": piece}))
    ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
    receive(ws, "input_audio_buffer.committed")
    with workers_paused(platform_server, customer.slug):
        # Half a frame, then the TCP connection is dropped without a close handshake.
        # shutdown() sends the FIN now: close() alone would not while the client's reading
        # thread is blocked in recv() on the socket (Linux keeps it open until that call
        # returns, i.e. until the server sends something).
        ws.socket.sendall(b"\x81\x7e\x10")
        # The server may have closed first, on the half frame (unmasked, a protocol error),
        # and the client's reading thread closed the socket on that: it is gone either way.
        with contextlib.suppress(OSError):
            ws.socket.shutdown(socket.SHUT_RDWR)
        ws.socket.close()
        wait_until(
            lambda: (
                [status for status, _ in tenant_job(platform_server, customer.slug)]
                == ["cancelled"]
            ),
            timeout=60,
            what="the turn's job cancelled",
        )
    # The job's end is committed first and its usage row settled just after, on commit
    # (transcriptions.services.lifecycle): a read in between sees the row still pending.
    [row] = wait_until(
        lambda: [r for r in usage_rows(platform_server, customer.key) if r[3] is not None],
        timeout=30,
        what="the turn's usage row settled",
    )
    assert usage_rows(platform_server, customer.key) == [row]
    assert row[0] == "/v1/realtime"
    assert row[3] < 55, "billed at most what was transcribed"
    # No worker is left busy: a request right after is served.
    run = stream(
        base_url=platform_server.api_base,
        api_key=customer.key,
        audio=audio_bytes(JFK, trailing_silence=0),
        session=session_config(server_vad=False),
        pace=0,
        commit=True,
    )
    [done] = run.of_type(COMPLETED)
    assert words(done["transcript"]) == words(JFK_TEXT)
    # The job stays cancelled once its worker goes on: the decode's result is refused.
    assert [status for status, _ in tenant_job(platform_server, customer.slug)][:1] == ["cancelled"]


@pytest.mark.parametrize("end", ["clear", "close"])
def test_interim_text_is_billed_when_the_turn_is_never_committed(platform_server, end):
    """The attack: 10 s of speech under server VAD that waits long for silence, the interim
    deltas read, then the buffer cleared or the socket closed. The words are billed: a
    /v1/realtime/preview row for the seconds they cover, counted in the quota too."""
    customer = tenant_with_limits(platform_server, f"peek-{end}")
    speech = load_samples(MULTILINGUAL, 24000)[: 24000 * 10].tobytes()
    ws = raw(platform_server, customer.key)
    receive(ws, "session.created")
    config = session_config(model="tiny.en", vad={"silence_duration_ms": 10_000})
    ws.send(json.dumps({"type": "session.update", "session": config}))
    receive(ws, "session.updated")
    step = 24000 * 2 // 10  # 100 ms, at the pace it is spoken
    interim = []
    for offset in range(0, len(speech), step):
        piece = base64.b64encode(speech[offset : offset + step]).decode()
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": piece}))
        time.sleep(0.1)
        with contextlib.suppress(TimeoutError):
            while True:
                event = json.loads(ws.recv(timeout=0))
                if event["type"] == DELTA:
                    interim.append(event["delta"])
    if end == "clear":
        ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        receive(ws, "input_audio_buffer.cleared")
    ws.close()
    assert len(words("".join(interim))) >= 5, interim
    [row] = usage_rows(platform_server, customer.key, count=1)
    status = {"clear": "preview_cleared", "close": "preview_closed"}[end]
    assert row[:3] == ("/v1/realtime/preview", 200, status)
    assert 3 <= row[3] <= 10
    [(used, reserved)] = platform_server.query(
        "SELECT q.used_seconds, q.reserved_seconds FROM accounts_quotaperiod q "
        "JOIN accounts_tenant t ON t.id = q.tenant_id WHERE t.slug = %s",
        (customer.slug,),
    )
    assert (used, reserved) == (row[3], 0)
