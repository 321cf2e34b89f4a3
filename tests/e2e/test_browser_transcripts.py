"""The transcript pages' live parts in a real browser (Debian's chromium, Playwright) against a
real server (gunicorn + a django-q2 worker running faster-whisper) that keeps uploaded audio
(RETAIN_AUDIO): an upload dropped on the new-transcription page that ends in a transcript, a
progress bar that moves, cancel, playback that seeks from the segments, and Swagger's try-out.

Set SCREENSHOT_DIR to keep a PNG of every page visited.
"""

import base64
import time

import pytest
from openai import OpenAI

from tests.audio import JFK, JFK_TEXT, long_speech_flac, words
from tests.e2e.test_browser import (  # noqa: F401
    NARROW,
    PASSWORD,
    browser,
    no_horizontal_overflow,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.e2e

OWNER = "tessa"
# 74 s of English speech in three chunks (tests/audio.long_speech_samples) on whisper-1: long
# enough to watch it run. Not multilingual.mp3: its German half, decoded as the English the
# file starts in, is decoded again stretch by stretch, which is not what these pages test.
LONG_MODEL = "whisper-1"


@pytest.fixture(scope="module")
def long_audio(tmp_path_factory):
    path = tmp_path_factory.mktemp("long-audio") / "long-speech.flac"
    path.write_bytes(long_speech_flac())
    return path


LANDING_TIMEOUT_MS = 180_000


# Slow (20 s and more, once per module, counted in its first test's setup): a platform of its
# own, since RETAIN_AUDIO is a setting of the whole process and the shared one keeps no audio.
@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A platform of its own, with RETAIN_AUDIO on (the player needs the audio kept), one
    worker process."""
    from tests.platforms import make_platform, production_like

    platform = make_platform(
        tmp_path_factory.mktemp("dash-transcripts"), RETAIN_AUDIO="true", Q_WORKERS="1"
    )
    platform.clusters = 2 if production_like() else 1
    platform.start(workers_ready=platform.clusters)
    try:
        platform.manage(
            "create_member", platform.tenant, OWNER, "--role", "owner", "--password-stdin",
            input=PASSWORD + "\n",
        )  # fmt: skip
        yield platform
    finally:
        platform.stop()


def job_row(live, public_id: str) -> dict:
    ((status, progress, text, api_key_id),) = live.query(
        "SELECT status, progress, text, api_key_id FROM transcriptions_job WHERE public_id = %s",
        (public_id,),
    )
    return {"status": status, "progress": progress, "text": text, "api_key_id": api_key_id}


def usage_row(live, public_id: str) -> dict:
    ((endpoint, status_code, billed),) = live.query(
        "SELECT endpoint, status_code, billed_seconds FROM accounts_usagerecord WHERE job_id = %s",
        (public_id,),
    )
    return {"endpoint": endpoint, "status_code": status_code, "billed_seconds": billed}


def detail_id(page) -> str:
    """The public id of the transcript page the browser is on."""
    return page.url.rstrip("/").rsplit("/", 1)[1]


def submit_upload(page, live, audio, *, model: str, drop: bool = False) -> str:
    """Fill the new-transcription form (the file dropped on the zone, or chosen with the
    input) and submit it; the public id of the transcript page it leads to."""
    page.click("nav >> text=New transcription")
    page.wait_for_url("**/transcribe/")
    if drop:
        data = base64.b64encode(audio.read_bytes()).decode()
        transfer = page.evaluate_handle(
            """([data, name]) => {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                const transfer = new DataTransfer();
                transfer.items.add(new File([bytes], name));
                return transfer;
            }""",
            [data, audio.name],
        )
        page.dispatch_event("[data-dropzone]", "dragenter", {"dataTransfer": transfer})
        assert "dragging" in page.get_attribute("[data-dropzone]", "class")
        page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": transfer})
        assert page.inner_text("[data-file-name]") == audio.name
    else:
        page.set_input_files("#id_file", str(audio))
    page.select_option("#id_model", model)
    screenshot(page, f"new-transcription-{audio.stem}")
    page.click("button:has-text('Transcribe')")
    page.wait_for_url(f"{live.url}/transcripts/job_*/")
    return detail_id(page)


def test_a_dropped_upload_ends_in_a_transcript(browser, live):  # noqa: F811
    page = sign_in(browser, live, OWNER)
    public_id = submit_upload(page, live, JFK, model="tiny.en", drop=True)
    assert "is being transcribed" in page.inner_text(".messages")
    # The page follows the job and shows the transcript when it lands, without a reload by hand.
    page.wait_for_selector("#transcript-text", timeout=LANDING_TIMEOUT_MS)
    assert words(page.inner_text("#transcript-text")) == words(JFK_TEXT)
    assert page.inner_text(".badge.succeeded") == "Succeeded"
    assert page.inner_text("[data-testid=billed-seconds]") == "11 s"
    screenshot(page, "uploaded-transcript")
    row = job_row(live, public_id)
    assert row["status"] == "succeeded" and row["api_key_id"] is None
    assert usage_row(live, public_id) == {
        "endpoint": "dashboard",
        "status_code": 202,
        "billed_seconds": 11,
    }

    # The copy button puts the text on the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page.click("[data-testid=copy-text]")
    page.wait_for_selector("[data-testid=copy-text]:has-text('Copied')")
    assert words(page.evaluate("navigator.clipboard.readText()")) == words(JFK_TEXT)

    page.click("nav >> text=Transcripts")
    page.wait_for_url("**/transcripts/")
    assert page.locator(f'table.transcripts a[href="/transcripts/{public_id}/"]').count() >= 1
    model_cell = page.locator("table.transcripts td.model").first
    assert model_cell.inner_text() == "tiny.en"

    page.set_viewport_size(NARROW)
    page.goto(f"{live.url}/transcribe/")
    assert no_horizontal_overflow(page)
    screenshot(page, "new-transcription-narrow")
    page.context.close()


# A long recording (74 s, three chunks) decoded for real, so that the bar has progress to show
# while the page polls (the subject).
def test_the_progress_bar_moves_and_the_page_updates_when_it_lands(browser, live, long_audio):  # noqa: F811
    page = sign_in(browser, live, OWNER)
    public_id = submit_upload(page, live, long_audio, model=LONG_MODEL)
    bar = page.locator(f'[data-job-progress="{public_id}"]')
    assert bar.count() == 1, "the job landed before its page was shown"
    # Every value the bar takes, as the page's polling sets them, with the width its fill is
    # given then (read in the same callback: once the job lands the page replaces the bar, and
    # the rendered width lags behind by the fill's 0.4 s transition).
    page.evaluate(
        """(bar) => {
            const fill = bar.querySelector(".progress-fill");
            const look = () => ({
                value: Number(bar.getAttribute("aria-valuenow")),
                width: fill.style.width,
            });
            window.progressSeen = [look()];
            new MutationObserver(() => window.progressSeen.push(look())).observe(bar, {
                attributes: true,
                attributeFilter: ["aria-valuenow"],
            });
        }""",
        bar.element_handle(),
    )
    page.wait_for_function(
        "window.progressSeen.some((s) => s.value > 0 && s.value < 100)",
        timeout=LANDING_TIMEOUT_MS,
    )
    moving = [s for s in page.evaluate("window.progressSeen") if 0 < s["value"] < 100]
    assert moving and all(s["width"] == f"{s['value']}%" for s in moving), moving
    screenshot(page, "transcript-running")
    seen = [s["value"] for s in page.evaluate("window.progressSeen")]
    assert seen == sorted(seen)  # it only moves forward
    # The list shows the running job with its bar too.
    listing = page.context.new_page()
    listing.goto(f"{live.url}/transcripts/")
    if listing.locator(f'[data-job-progress="{public_id}"]').count():
        screenshot(listing, "transcripts-running")
    # "whisper-1" on one line (an inline element that wraps has a box per line), at the
    # narrowest width that still shows the model column.
    listing.set_viewport_size({"width": 660, "height": 900})
    model = listing.locator("table.transcripts td.model code", has_text=LONG_MODEL).first
    assert model.evaluate("(code) => code.getClientRects().length") == 1
    listing.close()

    page.wait_for_selector("#transcript-text", timeout=LANDING_TIMEOUT_MS)  # reloaded itself
    assert page.locator("[data-job-progress]").count() == 0
    assert page.inner_text(".badge.succeeded") == "Succeeded"
    assert "permission is hereby granted" in page.inner_text("#transcript-text").lower()
    page.context.close()


def test_cancel_a_running_transcription(browser, live, long_audio):  # noqa: F811
    page = sign_in(browser, live, OWNER)
    public_id = submit_upload(page, live, long_audio, model=LONG_MODEL)
    # Running: its worker has started on it.
    deadline = time.monotonic() + LANDING_TIMEOUT_MS / 1000
    while job_row(live, public_id)["status"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job_row(live, public_id)["status"] == "running"
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("[data-testid=cancel-job]")
    page.wait_for_selector(".badge.cancelled")
    assert dialogs and dialogs[0].startswith("Cancel this transcription?")
    assert "The transcription was cancelled." in page.inner_text(".messages")
    assert page.locator("[data-testid=cancel-job]").count() == 0
    screenshot(page, "transcript-cancelled")
    assert job_row(live, public_id)["status"] == "cancelled"
    time.sleep(3)  # the worker's decode ends: its result is refused
    row = job_row(live, public_id)
    assert row["status"] == "cancelled" and row["text"] == ""
    assert usage_row(live, public_id)["billed_seconds"] == 0

    # Delete it, refusing the confirmation once: nothing happens then.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("[data-testid=delete-job]")
    assert live.query("SELECT 1 FROM transcriptions_job WHERE public_id = %s", (public_id,))
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=delete-job]")
    page.wait_for_url(f"{live.url}/transcripts/")
    assert "was deleted with its audio" in page.inner_text(".messages")
    assert not live.query("SELECT 1 FROM transcriptions_job WHERE public_id = %s", (public_id,))
    page.context.close()


# Once per module: 74 s of speech on tiny.en, so that the player has several segments to seek.
@pytest.fixture(scope="module")
def retained(live, long_audio) -> str:
    """A transcript of several segments whose audio was kept, made by the openai client."""
    client = OpenAI(base_url=live.api_base, api_key=live.key, max_retries=0)
    with long_audio.open("rb") as fh:
        raw = client.audio.transcriptions.with_raw_response.create(model="tiny.en", file=fh)
    raw.parse()
    ((public_id,),) = live.query(
        "SELECT public_id FROM transcriptions_job WHERE request_id = %s",
        (raw.headers["x-request-id"],),
    )
    return public_id


def test_playback_highlights_the_segment_and_seeks_on_click(browser, live, retained):  # noqa: F811
    page = sign_in(browser, live, OWNER)
    page.goto(f"{live.url}/transcripts/{retained}/")
    audio = page.locator("audio[data-segments-player]")
    assert audio.count() == 1
    page.wait_for_function(
        "document.querySelector('audio').readyState >= 1", timeout=30_000
    )  # metadata loaded from the tenant-checked audio view
    rows = page.locator("table.segments tbody tr")
    assert rows.count() >= 4
    target = rows.nth(3)
    start = float(target.get_attribute("data-start"))
    end = float(target.get_attribute("data-end"))
    assert start > 5
    target.click()
    page.wait_for_function(
        "([start, end]) => { const a = document.querySelector('audio');"
        " return a.currentTime >= start && a.currentTime < end; }",
        arg=[start, end],
        timeout=30_000,
    )
    page.wait_for_selector("table.segments tbody tr.current")
    current = page.locator("table.segments tbody tr.current")
    assert current.count() == 1
    assert current.get_attribute("data-start") == target.get_attribute("data-start")
    assert rows.first.get_attribute("class") in (None, "")
    screenshot(page, "transcript-playing")
    page.set_viewport_size(NARROW)
    assert no_horizontal_overflow(page)
    screenshot(page, "transcript-playing-narrow")

    # Seeking from the player's side highlights the segment of that time.
    first_end = float(rows.first.get_attribute("data-end"))
    page.evaluate(
        f"document.querySelector('audio').pause(); document.querySelector('audio').currentTime = {first_end / 2}"
    )
    page.wait_for_selector("table.segments tbody tr.current >> nth=0")
    page.wait_for_function(
        "document.querySelector('table.segments tbody tr').classList.contains('current')"
    )
    page.context.close()


def test_swagger_try_it_out_works_as_filled(browser, live):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live.url}/api/docs/")
    page.click("button.authorize")
    page.fill(".modal-ux input[type=text], .modal-ux input[type=password]", live.key)
    page.click(".modal-ux button.authorize")
    page.click(".modal-ux button.close-modal")
    page.locator("#operations-Audio-createTranscription").click()
    operation = page.locator("#operations-Audio-createTranscription")
    operation.locator("button.try-out__btn").click()
    form = operation.locator(".opblock-body")
    # Filled with valid examples, not "string".
    assert (
        form.locator("tr[data-property-name=model] input[type=text]").input_value() == "whisper-1"
    )
    assert form.locator("tr[data-property-name=language] input[type=text]").input_value() == "en"
    assert form.locator("tr[data-property-name=prompt] input[type=text]").input_value() == ""
    screenshot(page, "api-docs-try-out")
    form.locator("tr[data-property-name=file] input[type=file]").set_input_files(str(JFK))
    form.locator("button.execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status").first
    status.wait_for(timeout=LANDING_TIMEOUT_MS)
    body = operation.locator(".live-responses-table .response-col_description pre").first
    assert status.inner_text().strip() == "200", body.inner_text()[:500]
    assert "fellow Americans" in body.inner_text()
    screenshot(page, "api-docs-try-out-answered")
    context.close()
