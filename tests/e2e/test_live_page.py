"""The dashboard's live transcription page in a real browser: Debian's chromium, its
microphone fed jfk.flac (chromium's fake capture device), the page streaming it to
/v1/realtime with a pasted key, each turn's text appearing as it is transcribed."""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.audio import JFK, encode, words
from tools.realtime_client import load_samples

# solo: chromium plays the fake microphone in real time, and drops audio on a busy machine.
pytestmark = [pytest.mark.e2e, pytest.mark.solo]

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "a long live-page passphrase 7"
MEMBER = "lena"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Debian's chromium is not at {CHROMIUM}")
        pytest.skip(f"Debian's chromium is not at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    microphone = tmp_path_factory.mktemp("microphone") / "jfk.wav"
    # Chromium's fake microphone plays a 16-bit WAV (in a loop); two seconds of silence after
    # the speech end its last turn.
    # (`encode` takes float samples: the int16 ones, clipped to -1..1, made a square wave of
    # the speech, garbled into one or two words a turn until a later pass happened to match.)
    speech = load_samples(JFK, 48000).astype(np.float32) / 32768
    samples = np.concatenate([speech, np.zeros(2 * 48000, dtype=np.float32)])
    microphone.write_bytes(encode(samples, rate=48000))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield browser
        browser.close()


def _event_summary(frame) -> str:
    """An event's type and its text or error, without the audio."""
    try:
        event = json.loads(frame)
    except (TypeError, ValueError):
        return repr(frame)[:80]
    detail = event.get("transcript") or event.get("delta") or event.get("error") or ""
    return f"{time.monotonic():.1f} {event.get('type')} {event.get('item_id', '')} {detail}"


# About 13 s: the fake microphone plays the recording in real time (13 s a pass) until three
# turns are done (the subject: live transcription as it is spoken); a later pass only if the
# browser dropped audio.
def test_the_microphone_is_transcribed_live(browser, platform_server):
    platform_server.manage(
        "create_member", platform_server.tenant, MEMBER, "--role", "member", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    page = browser.new_context().new_page()
    # Every event the server sends, for the failure message: what the page was told, not only
    # what it shows.
    received: list[str] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda frame: received.append(_event_summary(frame))),
    )
    page.goto(f"{platform_server.url}/live/")
    page.fill("#id_username", MEMBER)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/live/")
    page.fill("#live-key", platform_server.key)
    page.select_option("#live-model", "tiny.en")
    page.click("#live-start")
    page.wait_for_selector("#live-turns li.done", timeout=60_000)
    # The fake microphone plays the file in a loop: on a loaded machine the browser may drop
    # some of its audio, so the page is given until a later pass for the words to come through.
    try:
        page.wait_for_function(
            "document.querySelectorAll('#live-turns li.done').length >= 3 && "
            "/americans|country/i.test(document.querySelector('#live-turns').innerText)",
            timeout=180_000,
        )
    except PlaywrightTimeout:
        pytest.fail(
            f"status: {page.inner_text('#live-status')!r}\n"
            f"turns: {page.inner_text('#live-turns')!r}\n"
            f"events ({len(received)}): {received[-60:]}\n"
            f"server log: {platform_server.log()[-3000:]}"
        )
    page.click("#live-stop")
    heard = set(words(page.inner_text("#live-turns")))
    assert {"americans", "country"} & heard, heard
    assert page.inner_text("#live-status").startswith(("Connected", "Stopped"))
