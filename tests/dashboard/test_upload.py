"""New transcription: an upload from the dashboard goes through the API's submission service
(same checks, quota, queue) and leaves one usage-log row that says it came from the dashboard,
counted by GET /v1/usage and the billing report like any request."""

import html
import re

import pytest
from django.utils import timezone

from billing.models import DASHBOARD_ENDPOINT, UsageRecord
from billing.reports import billing_report
from billing.selectors import quota_status
from billing.services import plan_override_set
from billing.services.quota import MSG_INSUFFICIENT_QUOTA
from tests.audio import JFK, JFK_TEXT, words
from transcriptions.models import Job
from transcriptions.services.submission import MSG_NO_TRANSLATION

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]

JFK_BILLED = 11  # jfk.flac is 11.0 s


def upload(client, path=JFK, **fields):
    """POST the new-transcription form (tiny.en, json, transcribe unless a field says)."""
    form = {"model": "tiny.en", "response_format": "json", "task": "transcribe", **fields}
    with open(path, "rb") as fh:
        return client.post("/transcribe/", {"file": fh, **form})


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/transcribe/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/transcribe/"


def test_the_form_offers_models_languages_formats_and_tasks(alice_client):
    response = alice_client.get("/transcribe/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'enctype="multipart/form-data"' in page and "data-dropzone" in page
    assert '<option value="whisper-1" selected>whisper-1</option>' in page
    assert '<option value="tiny.en">tiny.en</option>' in page
    assert '<option value="" selected>Detect</option>' in page
    assert '<option value="de">German</option>' in page
    for fmt in ("json", "text", "srt", "verbose_json", "vtt"):
        assert f'<option value="{fmt}"' in page
    assert '<option value="translate">Translate</option>' in page
    assert 'href="/transcribe/" class="active">New transcription</a>' in page  # the nav entry


@pytest.mark.inference
def test_an_upload_is_transcribed_and_lands_in_the_list(alice_client, tenant_a):
    response = upload(alice_client)
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/transcripts/{job.public_id}/"
    # The test settings run the queue inline: the job has run by now, with real inference.
    assert job.status == Job.Status.SUCCEEDED and job.tenant == tenant_a
    assert job.api_key is None and job.is_async and job.requested_model == "tiny.en"
    assert words(job.text) == words(JFK_TEXT)
    detail = alice_client.get(response["Location"]).content.decode()
    assert "is being transcribed" in detail  # the message of the submission
    assert "fellow Americans" in detail
    listing = alice_client.get("/transcripts/").content.decode()
    assert f'href="/transcripts/{job.public_id}/"' in listing


def test_the_usage_row_says_dashboard_and_is_billed_like_the_api(alice_client, api_a, tenant_a):
    upload(alice_client, language="en", response_format="srt")
    job = Job.objects.get()
    row = UsageRecord.objects.get(job_id=job.public_id)
    assert row.endpoint == DASHBOARD_ENDPOINT == "dashboard"
    assert row.request_id == job.request_id
    assert (row.tenant, row.api_key, row.method, row.model) == (tenant_a, None, "POST", "tiny.en")
    assert row.status_code == 202 and row.error_code == ""
    assert row.billed_seconds == JFK_BILLED  # settled when the job ended
    assert row.request_bytes == JFK.stat().st_size
    # The quota counts it...
    assert quota_status(tenant=tenant_a).used_seconds == JFK_BILLED
    # ...GET /v1/usage shows it (no key: it came from the dashboard)...
    usage = api_a.client.get("/v1/usage").json()
    mine = [r for r in usage["data"] if r["api_key"] is None]
    assert len(mine) == 1
    assert mine[0]["model"] == "tiny.en" and mine[0]["requests"] == 1
    assert mine[0]["billed_seconds"] == JFK_BILLED and mine[0]["successful_requests"] == 1
    # ...and the billing report bills it (the /v1/usage call above is a request too, at 0 s).
    now = timezone.now()
    (report,) = billing_report(year=now.year, month=now.month, tenant=tenant_a)
    assert report.billed_seconds == JFK_BILLED
    assert report.requests == UsageRecord.objects.filter(tenant=tenant_a).count() == 2


def test_undecodable_audio_is_refused_with_a_row_and_nothing_billed(
    alice_client, tenant_a, tmp_path
):
    fake = tmp_path / "noise.mp3"
    fake.write_bytes(b"\x00\x01not audio at all" * 200)
    response = upload(alice_client, path=fake)
    assert response.status_code == 400
    assert 'data-testid="upload-error"' in response.content.decode()
    assert not Job.objects.exists()
    row = UsageRecord.objects.get(tenant=tenant_a)
    assert row.endpoint == "dashboard" and row.status_code == 400
    assert row.error_code and row.billed_seconds == 0 and row.job_id == ""
    assert quota_status(tenant=tenant_a).used_seconds == 0
    assert quota_status(tenant=tenant_a).reserved_seconds == 0


def test_the_quota_refuses_an_upload_as_it_refuses_the_api(alice_client, tenant_a):
    plan_override_set(tenant=tenant_a, monthly_audio_seconds=5)
    response = upload(alice_client)
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    expected = MSG_INSUFFICIENT_QUOTA.split(":")[0]  # "You exceeded your current quota"
    assert expected in page and "needs 11 seconds" in page
    assert not Job.objects.exists()
    row = UsageRecord.objects.get(tenant=tenant_a)
    assert (row.status_code, row.error_code, row.billed_seconds) == (429, "quota_exceeded", 0)


def test_an_english_only_model_cannot_translate(alice_client):
    response = upload(alice_client, task="translate")
    assert response.status_code == 400
    assert MSG_NO_TRANSLATION.format(model="tiny.en") in html.unescape(response.content.decode())
    assert not Job.objects.exists()


def test_a_format_the_model_does_not_give_is_a_form_error(alice_client):
    response = upload(alice_client, model="gpt-4o-transcribe", response_format="srt")
    assert response.status_code == 400
    assert re.search(r"answers only in json, text", html.unescape(response.content.decode()))
    assert not Job.objects.exists()
    assert not UsageRecord.objects.exists()  # nothing was submitted


def test_the_diarizing_model_takes_no_prompt(alice_client):
    response = upload(alice_client, model="gpt-4o-transcribe-diarize", prompt="ComfyUI")
    assert response.status_code == 400
    assert "takes no prompt" in response.content.decode()
    assert not Job.objects.exists()


def test_a_file_over_the_plan_limit_is_refused_before_it_is_probed(alice_client, tenant_a):
    plan_override_set(tenant=tenant_a, max_file_bytes=1000)
    response = upload(alice_client)
    assert response.status_code == 400
    assert "the limit of your plan is 1000 bytes" in response.content.decode()
    assert not Job.objects.exists()


def test_an_upload_is_the_uploaders_tenant_only(alice_client, charlie_client, tenant_b):
    upload(charlie_client)
    job = Job.objects.get()
    assert job.tenant == tenant_b
    assert UsageRecord.objects.get(job_id=job.public_id).tenant == tenant_b
    assert (
        f"/transcripts/{job.public_id}/" not in alice_client.get("/transcripts/").content.decode()
    )
    assert alice_client.get(f"/transcripts/{job.public_id}/").status_code == 404
