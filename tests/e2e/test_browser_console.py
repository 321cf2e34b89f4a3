"""Issue 15's flows of the usage, keys and members pages in a real browser (Debian's
chromium driven by Playwright) against the real server: a date range that changes the
figures (checked against the usage log), a key's own rate limit set in the page and enforced
on the API, a member invited with a set-password link and given another role."""

import re
from datetime import UTC, date, datetime, timedelta

import openai
import pytest
from openai import OpenAI

from tests.audio import JFK
from tests.e2e import test_browser
from tests.e2e.test_browser import PASSWORD, screenshot, sign_in

pytestmark = pytest.mark.e2e

browser = test_browser.browser  # the same chromium fixture (module-scoped: one per module)

TENANT = "console"
OWNER = "fiona"
INVITED = "gus"
INVITED_PASSWORD = "gus sets his own passphrase 7"


@pytest.fixture(scope="module")
def console(platform_server) -> str:
    """A tenant of its own (figures not shared with other tests) with an owner and a key."""
    _, key = platform_server.manage_many(
        ["create_tenant", TENANT, "--name", "Console Org"],
        ["create_api_key", TENANT, "--name", "first"],
    )
    platform_server.manage(
        "create_member", TENANT, OWNER, "--role", "owner", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    return key


def tenant_rows(platform_server, since: date) -> list[tuple]:
    """(method, endpoint, billed_seconds, audio_seconds) of the console tenant's requests
    since the start (UTC) of a day."""
    return platform_server.query(
        "SELECT u.method, u.endpoint, u.billed_seconds, u.audio_seconds "
        "FROM accounts_usagerecord u JOIN accounts_tenant t ON u.tenant_id = t.id "
        "WHERE t.slug = %s AND u.created_at >= %s",
        (TENANT, since.isoformat()),
    )


def figure(page, name: str) -> str:
    return page.inner_text(f"[data-testid={name}]").strip()


def test_a_date_range_change_changes_the_figures(browser, platform_server, console):
    client = OpenAI(base_url=platform_server.api_base, api_key=console, max_retries=0)
    with JFK.open("rb") as fh:
        assert client.audio.transcriptions.create(model="tiny.en", file=fh).text
    client.models.list()
    client.models.list()

    page = sign_in(browser, platform_server, OWNER)
    page.click("nav >> text=Usage")
    page.wait_for_url("**/usage/")
    today = datetime.now(UTC).date()
    rows = tenant_rows(platform_server, today.replace(day=1))
    posts = [r for r in rows if r[0] == "POST" and r[1].startswith("/v1/audio/")]
    assert len(rows) == 3 and len(posts) == 1
    assert figure(page, "usage-transcriptions") == str(len(posts))
    assert figure(page, "usage-other-requests") == str(len(rows) - len(posts))
    billed = sum(r[2] or 0 for r in rows)
    assert figure(page, "usage-billed-seconds") == f"{billed} s" and billed == 11
    bar = page.locator("svg[data-testid=usage-chart] rect.bar")
    assert bar.count() == 1
    assert float(bar.first.get_attribute("data-value")) == pytest.approx(
        sum(r[3] or 0 for r in rows) / 60, abs=0.01
    )
    screenshot(page, "usage-this-month")

    # A custom range a year back: nothing there.
    start, end = today - timedelta(days=400), today - timedelta(days=370)
    page.fill("#range-from", start.isoformat())
    page.fill("#range-to", end.isoformat())
    page.click("button:has-text('Show')")
    page.wait_for_url(re.compile(r".*from=.*"))
    assert figure(page, "usage-transcriptions") == "0"
    assert figure(page, "usage-billed-seconds") == "0 s"
    assert page.locator("svg[data-testid=usage-chart] rect.bar").count() == 0
    assert (
        page.text_content("svg[data-testid=usage-chart] .chart-empty") == "No audio in this period"
    )
    assert f"{start:%b} {start.day}, {start.year}" in figure(page, "usage-range")
    screenshot(page, "usage-custom-range")

    # The last 7 days preset: today's figures again.
    page.click("a[data-range=last-7]")
    page.wait_for_url("**/usage/?range=last-7")
    assert figure(page, "usage-transcriptions") == "1"
    assert figure(page, "usage-billed-seconds") == "11 s"
    by_key = page.inner_text("[data-testid=by-key]")
    assert console[:15] in by_key
    page.context.close()


def test_a_key_limit_set_in_the_page_is_enforced_by_the_api(browser, platform_server, console):
    page = sign_in(browser, platform_server, OWNER)
    page.click("nav >> text=API keys")
    page.wait_for_url("**/keys/")
    page.fill("#id_name", "limited")
    page.click("button:has-text('Create key')")
    page.wait_for_url("**/keys/")
    key = page.input_value("[data-testid=new-api-key]")
    row = page.locator(f'tr[data-prefix="{key[:15]}"]')
    row.locator("summary:has-text('Limits')").click()
    row.locator("input[name$=requests_per_minute]").fill("2")
    row.locator("button:has-text('Save limits')").click()
    page.wait_for_url("**/keys/")
    assert "2 requests per minute" in page.inner_text(".messages")
    assert page.locator(f'tr[data-prefix="{key[:15]}"] td.key-limit').inner_text() == "2/min"
    screenshot(page, "keys-limit")

    client = OpenAI(base_url=platform_server.api_base, api_key=key, max_retries=0)
    first = client.models.with_raw_response.list()
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    client.models.list()
    with pytest.raises(openai.RateLimitError) as refused:
        client.models.list()
    assert refused.value.status_code == 429
    assert refused.value.code == "rate_limit_exceeded"
    assert f"API key {key[:15]}" in refused.value.body["message"]
    # The tenant's other key is not held back by this key's limit.
    OpenAI(base_url=platform_server.api_base, api_key=console, max_retries=0).models.list()

    # The refused request is in the request log, filtered by that key.
    page.click("nav >> text=Requests")
    page.wait_for_url("**/requests/")
    page.select_option("#id_key", label=f"{key[:15]}… limited")
    page.select_option("#id_status", "error")
    page.click("button:has-text('Filter')")
    page.wait_for_url(re.compile(r".*status=error.*"))
    refused_rows = page.locator("table.requests tbody tr")
    assert refused_rows.count() == 1
    assert "429" in refused_rows.first.inner_text()
    screenshot(page, "request-log")
    page.context.close()


def test_an_owner_invites_a_member_then_makes_them_an_owner(browser, platform_server, console):
    page = sign_in(browser, platform_server, OWNER)
    page.click("nav >> text=Members")
    page.wait_for_url("**/members/")
    page.fill("#id_username", INVITED)
    page.fill("#id_email", "gus@example.com")
    page.select_option("#id_role", "member")
    page.click("button:has-text('Add member')")
    page.wait_for_url("**/members/")
    link = page.input_value("[data-testid=invite-link]")
    assert "/accounts/password/set/" in link
    assert PASSWORD not in page.content()
    screenshot(page, "members-invited")

    guest = browser.new_context()
    their = guest.new_page()
    their.goto(link)
    their.fill("#id_new_password1", INVITED_PASSWORD)
    their.fill("#id_new_password2", INVITED_PASSWORD)
    their.click("button:has-text('Set password')")
    their.wait_for_selector("text=Your password is set")
    their.click("a:has-text('Sign in')")
    their.fill("#id_username", INVITED)
    their.fill("#id_password", INVITED_PASSWORD)
    their.click("button:has-text('Sign in')")
    their.wait_for_url(lambda url: "/accounts/" not in url)  # signed in: the dashboard
    assert their.text_content(".account .role").strip() == "member"
    their.goto(f"{platform_server.url}/members/")
    assert their.locator("[data-testid=invite-form]").count() == 0

    row = page.locator(f'tr[data-username="{INVITED}"]')
    row.locator("select[name=role]").select_option("owner")
    row.locator("button:has-text('Change role')").click()
    page.wait_for_url("**/members/")
    assert f"{INVITED} is now an owner of Console Org." in page.inner_text(".messages")
    screenshot(page, "members-role-changed")

    their.reload()
    assert their.text_content(".account .role").strip() == "owner"
    assert their.locator("[data-testid=invite-form]").count() == 1
    guest.close()
    page.context.close()
