"""The dashboard in a real browser: Debian's chromium driven by Playwright, against the real
server (gunicorn + django-q2 workers) with the official `openai` client making the traffic.

Set SCREENSHOT_DIR to keep a PNG of every page visited (desktop and narrow widths).
"""

import os
import re
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from accounts.authentication import MSG_REVOKED_KEY, mask
from tests.audio import JFK, JFK_TEXT, words

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "a long browser passphrase 42"
OWNER = "erin"
OUTSIDER = "oscar"
OPERATOR = "olga"
SRT_CUE = re.compile(r"^\d+\n\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}\n.+$", re.M)
NARROW = {"width": 390, "height": 844}


def _unavailable(reason: str) -> None:
    # CI installs chromium (.ci/run): there a missing browser is a failure, not a skip.
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"Debian's chromium is not at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def people(platform_server) -> dict[str, str]:
    """An owner of the e2e tenant, and someone of another tenant, made with the commands."""
    platform_server.manage(
        "create_member", platform_server.tenant, OWNER, "--role", "owner", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    platform_server.manage("create_tenant", "other", "--name", "Other Org")
    platform_server.manage(
        "create_member", "other", OUTSIDER, "--role", "owner", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    platform_server.manage(
        "create_member", platform_server.tenant, OPERATOR, "--staff", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    return {"owner": OWNER, "outsider": OUTSIDER, "operator": OPERATOR}


@pytest.fixture(scope="module")
def transcript(platform_server) -> str:
    """The public id of a JFK transcript made by the openai client through the API."""
    client = OpenAI(base_url=platform_server.api_base, api_key=platform_server.key, max_retries=0)
    with JFK.open("rb") as fh:
        raw = client.audio.transcriptions.with_raw_response.create(model="tiny.en", file=fh)
    assert words(raw.parse().text) == words(JFK_TEXT)
    rows = platform_server.query(
        "SELECT public_id FROM transcriptions_job WHERE request_id = %s",
        (raw.headers["x-request-id"],),
    )
    return rows[0][0]


def screenshot(page, name: str) -> None:
    directory = os.environ.get("SCREENSHOT_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)


def sign_in(browser, platform_server, username: str, **context_options):
    context = browser.new_context(accept_downloads=True, **context_options)
    page = context.new_page()
    page.goto(f"{platform_server.url}/transcripts/")
    assert "/accounts/login/" in page.url  # sent to sign in first
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{platform_server.url}/transcripts/")
    return page


def no_horizontal_overflow(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"
    )


def test_sign_in_open_a_transcript_and_download_its_srt(
    browser, platform_server, people, transcript
):
    page = sign_in(browser, platform_server, OWNER)
    row_link = page.locator(f'table.transcripts a[href="/transcripts/{transcript}/"]').first
    assert row_link.is_visible()
    assert "fellow Americans" in page.locator("table.transcripts").inner_text()
    screenshot(page, "transcripts")

    row_link.click()
    page.wait_for_url(f"**/transcripts/{transcript}/")
    facts = page.locator("dl.facts").first.inner_text()
    assert "English" in facts and "11.0 s" in facts
    segments = page.locator("table.segments tbody tr")
    assert segments.count() >= 1
    first_start = segments.first.locator("td.time").first.inner_text()
    assert first_start == "0:00.0"
    screenshot(page, "transcript-detail")

    with page.expect_download() as download_info:
        page.click("a.btn:has-text('SRT')")
    download = download_info.value
    assert download.suggested_filename == f"{transcript}.srt"
    srt = Path(download.path()).read_text()
    cues = srt.strip().split("\n\n")
    assert len(cues) == segments.count()
    assert all(SRT_CUE.match(cue) for cue in cues)
    spoken = " ".join(cue.split("\n", 2)[2] for cue in cues)
    assert words(spoken) == words(JFK_TEXT)

    page.set_viewport_size(NARROW)
    page.reload()
    assert no_horizontal_overflow(page)
    screenshot(page, "transcript-detail-narrow")
    page.context.close()


def test_create_a_key_use_it_then_revoke_it(browser, platform_server, people):
    page = sign_in(browser, platform_server, OWNER)
    page.click("nav >> text=API keys")
    page.wait_for_url("**/keys/")
    page.fill("#id_name", "browser test")
    page.click("button:has-text('Create key')")
    page.wait_for_url("**/keys/")
    key = page.input_value("[data-testid=new-api-key]")
    assert re.fullmatch(r"sk-[A-Za-z0-9]{52}", key)
    screenshot(page, "keys-created")

    client = OpenAI(base_url=platform_server.api_base, api_key=key, max_retries=0)
    with JFK.open("rb") as fh:
        result = client.audio.transcriptions.create(model="tiny.en", file=fh)
    assert words(result.text) == words(JFK_TEXT)

    page.reload()
    assert page.locator("[data-testid=new-api-key]").count() == 0  # shown once only
    row = page.locator(f'tr[data-prefix="{key[:15]}"]')
    assert "browser test" in row.inner_text() and "Active" in row.inner_text()
    assert row.locator("td.last-used").inner_text().endswith("minutes ago")  # just now
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button:has-text('Revoke')").click()
    page.wait_for_selector(f'tr[data-prefix="{key[:15]}"] .badge.revoked')
    screenshot(page, "keys-revoked")

    with pytest.raises(openai.AuthenticationError) as refused:
        client.models.list()
    assert refused.value.status_code == 401
    assert refused.value.body["message"] == MSG_REVOKED_KEY.format(masked=mask(key))

    page.set_viewport_size(NARROW)
    page.reload()
    assert no_horizontal_overflow(page)
    screenshot(page, "keys-narrow")
    page.context.close()


def test_the_usage_chart_renders(browser, platform_server, people, transcript):
    page = sign_in(browser, platform_server, OWNER)
    page.click("nav >> text=Usage")
    page.wait_for_url("**/usage/")
    chart = page.locator("svg[data-testid=usage-chart]")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 80
    bars = chart.locator("rect.bar")
    assert bars.count() >= 1  # today's audio
    today = bars.last
    assert float(today.get_attribute("data-value")) > 0
    assert today.bounding_box()["height"] > 0
    assert int(page.inner_text("[data-testid=billing-requests]")) >= 1
    screenshot(page, "usage")
    page.set_viewport_size(NARROW)
    page.reload()
    assert no_horizontal_overflow(page)
    assert page.locator("svg[data-testid=usage-chart]").bounding_box()["width"] <= NARROW["width"]
    screenshot(page, "usage-narrow")
    page.context.close()


def test_another_tenant_gets_a_404(browser, platform_server, people, transcript):
    page = sign_in(browser, platform_server, OUTSIDER)
    assert page.locator(f'a[href="/transcripts/{transcript}/"]').count() == 0
    assert "No transcripts yet." in page.inner_text("main")
    screenshot(page, "transcripts-empty")
    response = page.goto(f"{platform_server.url}/transcripts/{transcript}/")
    assert response.status == 404
    assert "This page does not exist" in page.inner_text("main")
    screenshot(page, "not-found")
    response = page.goto(f"{platform_server.url}/transcripts/{transcript}/download.srt")
    assert response.status == 404
    # An unknown URL keeps the navigation and the organization (served over ASGI, whose
    # request.scope is the connection's: the dashboard's is request.tenant_scope).
    response = page.goto(f"{platform_server.url}/no-such-page/")
    assert response.status == 404
    assert page.locator("nav >> text=Transcripts").count() == 1
    assert "Other Org" in page.inner_text("header")
    page.context.close()


def test_staff_see_the_platform_overview(browser, platform_server, people, transcript):
    page = sign_in(browser, platform_server, OPERATOR)
    page.click("nav >> text=Platform")
    page.wait_for_url("**/overview/")
    # The real workers of the running server, seen by their processes on this host.
    alive = page.inner_text("[data-testid=workers-alive] .value")
    assert alive == str(platform_server.worker_processes)
    assert int(page.inner_text("[data-status=succeeded] .value")) >= 1
    tenants = page.inner_text("table.per-tenant")
    assert "E2E" in tenants and "Other Org" in tenants
    screenshot(page, "overview")
    page.click("a:has-text('Successful tasks')")  # django-q2's task monitor
    page.wait_for_url("**/admin/django_q/success/")
    assert transcript in page.inner_text("#result_list")  # the task that ran it
    screenshot(page, "admin-task-monitor")
    page.goto(f"{platform_server.url}/admin/transcriptions/job/")
    assert transcript in page.inner_text("#result_list")
    screenshot(page, "admin-jobs")
    page.context.close()


def test_the_api_docs_render_from_vendored_assets(browser, platform_server):
    context = browser.new_context()
    page = context.new_page()
    outside = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith(platform_server.url)
            and not request.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    page.goto(f"{platform_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/v1/audio/transcriptions", "/v1/audio/translations", "/v1/models"} <= {
        p.replace("\u200b", "") for p in paths
    }
    screenshot(page, "api-docs")
    page.locator("#operations-Audio-createTranscription").click()  # expands the operation
    page.wait_for_selector("text=timestamp_granularities[]")
    assert outside == []
    context.close()
