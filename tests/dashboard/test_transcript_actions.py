"""A transcript's live progress (JSON polled by its bars), cancel and delete (the services of
DELETE /v1/audio/jobs/{id}), its billed seconds and cost, its retained audio; and the small
faults of the list and detail pages (language choices, invalid dates, staff's header)."""

import re
from datetime import timedelta
from pathlib import Path

import pytest

from billing.models import UsageRecord
from billing.rounding import billing_amount
from billing.selectors import quota_status, tenant_limits
from dashboard.tenancy import SESSION_TENANT
from tests.audio import JFK
from tests.conftest import transcribe_jfk
from tests.dashboard.conftest import clone, transcribe
from transcriptions import tasks
from transcriptions.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]

NOT_FOUND = "This page does not exist"


def queued_job(api) -> Job:
    """A job submitted through POST /v1/audio/jobs that no worker has taken yet."""
    response = transcribe_jfk(api, "/v1/audio/jobs")
    assert response.status_code == 202, response.content[:300]
    return Job.objects.get(public_id=response.json()["id"])


def progress(client, *ids: str) -> dict[str, dict]:
    response = client.get("/transcripts/progress.json", {"ids": ",".join(ids)})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return {job["id"]: job for job in response.json()["jobs"]}


def test_progress_follows_a_job_until_it_lands(alice_client, api_a, stalled_queue):
    job = queued_job(api_a)
    assert progress(alice_client, job.public_id) == {
        job.public_id: {"id": job.public_id, "status": "queued", "progress": 0, "finished": False}
    }
    page = alice_client.get(f"/transcripts/{job.public_id}/").content.decode()
    assert f'data-job-progress="{job.public_id}"' in page and 'aria-valuenow="0"' in page
    assert 'data-testid="cancel-job"' in page
    listing = alice_client.get("/transcripts/").content.decode()
    assert f'data-job-progress="{job.public_id}"' in listing

    tasks.run_chunk()  # a worker takes it and runs it
    assert progress(alice_client, job.public_id)[job.public_id] == {
        "id": job.public_id,
        "status": "succeeded",
        "progress": 100,
        "finished": True,
    }
    page = alice_client.get(f"/transcripts/{job.public_id}/").content.decode()
    assert "data-job-progress" not in page and 'data-testid="cancel-job"' not in page


def test_progress_of_another_tenants_job_is_not_given(charlie_client, api_a, stalled_queue):
    job = queued_job(api_a)
    assert progress(charlie_client, job.public_id, "job_unknown") == {}


def test_cancel_a_queued_job_refunds_its_quota(alice_client, api_a, tenant_a, stalled_queue):
    job = queued_job(api_a)
    assert quota_status(tenant=tenant_a).reserved_seconds == 11
    response = alice_client.post(f"/transcripts/{job.public_id}/cancel/")
    assert response.status_code == 302 and response["Location"] == f"/transcripts/{job.public_id}/"
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.error_code == "cancelled"
    status = quota_status(tenant=tenant_a)
    assert (status.reserved_seconds, status.used_seconds) == (0, 0)
    row = UsageRecord.objects.get(job_id=job.public_id)  # the API request that submitted it
    assert (row.billed_seconds, row.error_code) == (0, "cancelled")
    page = alice_client.get(response["Location"]).content.decode()
    assert "The transcription was cancelled." in page
    tasks.run_chunk()  # the turn arrives after the cancel: nothing runs
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.text == ""
    # Cancelling again says so and changes nothing.
    again = alice_client.post(f"/transcripts/{job.public_id}/cancel/", follow=True)
    assert "This transcription had already ended." in again.content.decode()


def test_delete_removes_the_job_and_its_audio(alice_client, api_a, stalled_queue):
    job = queued_job(api_a)
    audio = Path(job.audio.path)
    assert audio.exists()
    response = alice_client.post(f"/transcripts/{job.public_id}/delete/", follow=True)
    assert response.redirect_chain == [("/transcripts/", 302)]
    assert "was deleted with its audio" in response.content.decode()
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not audio.exists()
    assert alice_client.get(f"/transcripts/{job.public_id}/").status_code == 404
    # As DELETE /v1/audio/jobs/{id} does: deleting a job that had not ended cancels it first.
    assert UsageRecord.objects.get(job_id=job.public_id).billed_seconds == 0


def test_cancel_and_delete_only_by_post(alice_client, jfk_job):
    for action in ("cancel", "delete"):
        assert alice_client.get(f"/transcripts/{jfk_job.public_id}/{action}/").status_code == 405
    assert Job.objects.filter(pk=jfk_job.pk).exists()


def test_another_tenant_cannot_cancel_delete_or_hear_a_job(
    charlie_client, api_a, stalled_queue, settings
):
    settings.RETAIN_AUDIO = True
    job = queued_job(api_a)
    for url in (f"/transcripts/{job.public_id}/cancel/", f"/transcripts/{job.public_id}/delete/"):
        response = charlie_client.post(url)
        assert response.status_code == 404, url
        assert NOT_FOUND in response.content.decode()
    response = charlie_client.get(f"/transcripts/{job.public_id}/audio")
    assert response.status_code == 404
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and Path(job.audio.path).exists()


def test_detail_shows_billed_seconds_and_cost_at_the_plan_price(alice_client, jfk_job, tenant_a):
    limits = tenant_limits(tenant=tenant_a)
    page = alice_client.get(f"/transcripts/{jfk_job.public_id}/").content.decode()
    billed = re.search(r'data-testid="billed-seconds">([^<]*)<', page)[1]
    assert billed == "11 s"
    amount = billing_amount(billed_seconds=11, price_per_minute=limits.price_per_minute)
    cost = re.search(r'data-testid="cost">([^<]*)<', page)[1]
    assert cost == f"{amount} {limits.currency} "
    assert f"at {limits.price_per_minute} {limits.currency}/min" in page


def test_a_running_job_is_billed_when_it_ends(alice_client, api_a, stalled_queue):
    job = queued_job(api_a)
    page = alice_client.get(f"/transcripts/{job.public_id}/").content.decode()
    assert re.search(r'data-testid="billed-seconds"><span class="muted">when the job ends', page)
    # Its audio is stored while it runs, but not kept after (RETAIN_AUDIO off): no player.
    assert job.audio and "<audio" not in page


def test_the_copy_button_copies_the_text_element(alice_client, jfk_job):
    page = alice_client.get(f"/transcripts/{jfk_job.public_id}/").content.decode()
    assert 'data-copy-text="transcript-text"' in page
    text = re.search(r'<p class="transcript-text" id="transcript-text">([^<]*)</p>', page)[1]
    assert text == jfk_job.text


def test_retained_audio_is_played_with_byte_ranges(alice_client, api_a, settings):
    settings.RETAIN_AUDIO = True
    job = transcribe(api_a)
    page = alice_client.get(f"/transcripts/{job.public_id}/").content.decode()
    assert f'<audio controls preload="auto" src="/transcripts/{job.public_id}/audio"' in page
    assert re.search(r'<tr data-start="0\.000" data-end="[\d.]+" tabindex="0">', page)

    data = JFK.read_bytes()
    whole = alice_client.get(f"/transcripts/{job.public_id}/audio")
    assert whole.status_code == 200 and whole["Content-Type"] == "audio/flac"
    assert whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == data
    part = alice_client.get(f"/transcripts/{job.public_id}/audio", HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part.content == data[100:200]
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = alice_client.get(f"/transcripts/{job.public_id}/audio", HTTP_RANGE="bytes=-50")
    assert tail.status_code == 206 and tail.content == data[-50:]
    beyond = alice_client.get(
        f"/transcripts/{job.public_id}/audio", HTTP_RANGE=f"bytes={len(data)}-"
    )
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(data)}"


def test_without_retained_audio_there_is_no_player(alice_client, jfk_job):
    assert not jfk_job.audio  # RETAIN_AUDIO is off: deleted when the job ended
    page = alice_client.get(f"/transcripts/{jfk_job.public_id}/").content.decode()
    assert "<audio" not in page
    assert alice_client.get(f"/transcripts/{jfk_job.public_id}/audio").status_code == 404


# --- Small faults ----------------------------------------------------------------------------


def test_the_language_filter_lists_each_language_once(alice_client, jfk_job):
    for days in range(1, 4):  # at other times: DISTINCT over the default ordering kept them
        clone(jfk_job, created_at=jfk_job.created_at - timedelta(days=days))
    page = alice_client.get("/transcripts/").content.decode()
    assert page.count('<option value="en">English</option>') == 1


def test_an_invalid_date_filter_is_an_error_not_ignored(alice_client, jfk_job):
    response = alice_client.get("/transcripts/", {"date_from": "2025-02-30", "q": "fellow"})
    assert response.status_code == 200
    page = response.content.decode()
    errors = re.search(r'data-testid="filter-errors">(.*?)</div>', page, re.S)[1]
    assert "<strong>From</strong>: Enter a valid date. This filter was not applied." in errors
    assert 'href="/transcripts/">Clear</a>' in page  # the filters can be cleared


def test_the_model_column_does_not_wrap(alice_client, api_a):
    transcribe(api_a, model="whisper-1")
    page = alice_client.get("/transcripts/").content.decode()
    assert '<td class="hide-sm nowrap model" data-label="Model"><code>whisper-1</code></td>' in page


def test_staff_opening_another_tenants_transcript_switch_to_its_organization(
    staff_client, api_b, tenant_a, tenant_b
):
    staff_client.get("/transcripts/")  # acting for the first tenant, Acme
    assert staff_client.session[SESSION_TENANT] == tenant_a.pk
    job = transcribe(api_b)
    page = staff_client.get(f"/transcripts/{job.public_id}/").content.decode()
    assert staff_client.session[SESSION_TENANT] == tenant_b.pk
    assert f'<option value="{tenant_b.pk}" selected>Globex</option>' in page
    assert f'<option value="{tenant_a.pk}" >Acme</option>' in page
    # The next pages are Globex's too.
    listing = staff_client.get("/transcripts/").content.decode()
    assert f'href="/transcripts/{job.public_id}/"' in listing


def test_anonymous_get_nothing(client, jfk_job):
    for method, url in (
        ("get", f"/transcripts/progress.json?ids={jfk_job.public_id}"),
        ("get", f"/transcripts/{jfk_job.public_id}/audio"),
        ("post", f"/transcripts/{jfk_job.public_id}/cancel/"),
        ("post", f"/transcripts/{jfk_job.public_id}/delete/"),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url
    assert Job.objects.filter(pk=jfk_job.pk).exists()


SCRIPT = "<script>document.title='pwned'</script>"


def hostile_matroska(path: Path) -> Path:
    """Real audio in a valid Matroska file named like a page, its title tag holding a script."""
    import av
    from faster_whisper.audio import decode_audio

    samples = decode_audio(str(JFK), sampling_rate=16000)[: 16000 * 3]
    with av.open(str(path), mode="w", format="matroska") as container:
        container.metadata["title"] = SCRIPT
        stream = container.add_stream("pcm_s16le", rate=16000, layout="mono")
        pcm = (samples * 32767).astype("int16").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    assert SCRIPT.encode() in path.read_bytes()
    return path


@pytest.mark.parametrize("byte_range", [None, "bytes=0-"], ids=["whole", "range"])
def test_retained_audio_is_never_served_as_what_its_filename_says(
    alice_client, api_a, settings, tmp_path, byte_range
):
    settings.RETAIN_AUDIO = True
    job = transcribe(api_a, audio=hostile_matroska(tmp_path / "x.html"))
    assert job.audio_filename == "x.html"
    headers = {"HTTP_RANGE": byte_range} if byte_range else {}
    response = alice_client.get(f"/transcripts/{job.public_id}/audio", **headers)
    assert response.status_code == (206 if byte_range else 200)
    body = response.content if byte_range else b"".join(response.streaming_content)
    assert SCRIPT.encode() in body  # the bytes as stored, under a type no browser renders
    # The type comes from the probed container (Matroska), never from the name.
    assert response["Content-Type"] == "audio/webm"
    assert "html" not in response.get("Content-Disposition", "")
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("container", ["mpeg", "", "html"])
def test_audio_of_a_container_off_the_list_is_a_download(alice_client, api_a, settings, container):
    settings.RETAIN_AUDIO = True
    job = transcribe(api_a)
    Job.objects.filter(pk=job.pk).update(audio_format=container, audio_filename="x.html")
    response = alice_client.get(f"/transcripts/{job.public_id}/audio")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f'attachment; filename="{job.public_id}"'
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
