"""The transcripts pages: list (search, filters, pages), detail and downloads."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.views.transcripts import PAGE_SIZE
from tests.audio import JFK_TEXT, german_sentence_wav, words
from tests.dashboard.conftest import clone, transcribe
from transcriptions.models import Job
from transcriptions.openai.formats import render

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]

SRT_CUE = re.compile(r"^\d+\n\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}\n.+$", re.M)


def listed(response) -> list[str]:
    """Public ids of the transcripts linked from a list page, in order."""
    html = response.content.decode()
    ids = re.findall(r'href="/transcripts/(job_[0-9a-f]+)/"', html)
    return list(dict.fromkeys(ids))


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/transcripts/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/transcripts/"


def test_home_is_the_transcript_list(alice_client):
    response = alice_client.get("/")
    assert response.status_code == 302 and response["Location"] == "/transcripts/"


def test_empty_list_says_how_to_make_one(alice_client):
    response = alice_client.get("/transcripts/")
    assert response.status_code == 200
    assert "No transcripts yet." in response.content.decode()
    assert "/v1/audio/transcriptions" in response.content.decode()


@pytest.mark.inference
def test_list_shows_a_transcript_made_through_the_api(alice_client, jfk_job):
    response = alice_client.get("/transcripts/")
    html = response.content.decode()
    assert listed(response) == [jfk_job.public_id]
    assert "And so, my fellow Americans" in html or "And so my fellow Americans" in html
    assert 'class="badge succeeded"' in html
    assert "tiny.en" in html and "English" in html
    assert "11.0 s" in html


@pytest.mark.inference
def test_search_is_over_the_text(alice_client, jfk_job):
    assert listed(alice_client.get("/transcripts/", {"q": "fellow americans"})) == [
        jfk_job.public_id
    ]
    response = alice_client.get("/transcripts/", {"q": "zebra crossing"})
    assert listed(response) == []
    assert "No transcript matches these filters." in response.content.decode()


def test_filters_by_status_model_language_and_date(alice_client, api_a, jfk_job):
    failed = clone(
        jfk_job,
        status=Job.Status.FAILED,
        text="",
        result=None,
        detected_language="",
        error_code="engine_error",
        error_message="The transcription engine failed.",
    )
    old = clone(jfk_job, created_at=timezone.now() - timedelta(days=40))

    def ids(**params) -> set[str]:
        return set(listed(alice_client.get("/transcripts/", params)))

    assert ids(status="failed") == {failed.public_id}
    assert ids(status="succeeded") == {jfk_job.public_id, old.public_id}
    assert ids(model="tiny.en") == {jfk_job.public_id, failed.public_id, old.public_id}
    assert ids(model="base") == set()  # not a model this tenant used: not a choice either
    assert ids(language="en") == {jfk_job.public_id, old.public_id}
    today = timezone.now().date()
    assert ids(date_from=str(today - timedelta(days=1))) == {jfk_job.public_id, failed.public_id}
    assert ids(date_to=str(today - timedelta(days=30))) == {old.public_id}
    assert ids(status="succeeded", date_from=str(today)) == {jfk_job.public_id}


@pytest.mark.inference
def test_language_filter_lists_the_languages_seen(alice_client, api_a, tmp_path):
    german = tmp_path / "german.wav"
    german.write_bytes(german_sentence_wav())
    with_german = transcribe(api_a, audio=german, model="whisper-1")
    assert with_german.detected_language == "de"
    html = alice_client.get("/transcripts/").content.decode()
    assert '<option value="de">German</option>' in html
    assert listed(alice_client.get("/transcripts/", {"language": "de"})) == [with_german.public_id]


@pytest.mark.inference
def test_pages_of_twenty_five_keep_the_filters(alice_client, jfk_job):
    for _ in range(PAGE_SIZE):
        clone(jfk_job)
    first = alice_client.get("/transcripts/", {"q": "fellow"})
    assert len(listed(first)) == PAGE_SIZE
    html = first.content.decode()
    assert f"1\u2013{PAGE_SIZE} of {PAGE_SIZE + 1}" in html
    assert 'href="?q=fellow&amp;page=2"' in html
    second = alice_client.get("/transcripts/", {"q": "fellow", "page": 2})
    assert listed(second) == [jfk_job.public_id]  # the oldest, alone on page 2
    assert "Page 2 of 2" in second.content.decode()


def test_detail_shows_language_duration_and_timed_segments(alice_client, jfk_job):
    response = alice_client.get(f"/transcripts/{jfk_job.public_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "English" in html
    assert "11.0 s" in html
    segments = jfk_job.result["segments"]
    assert segments
    rows = re.findall(r'<td class="time">([^<]+)</td>\s*<td class="time">([^<]+)</td>', html)
    assert len(rows) == len(segments)
    assert rows[0][0] == "0:00.0"
    last_end = segments[-1]["end"]
    assert rows[-1][1] == f"0:{int(last_end):02d}.{round(last_end * 10) % 10}"
    for segment in segments:
        assert segment["text"].strip() in html
    for fmt in ("txt", "srt", "vtt", "json"):
        assert f'href="/transcripts/{jfk_job.public_id}/download.{fmt}"' in html


@pytest.mark.inference
@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("txt", "text/plain; charset=utf-8"),
        ("srt", "application/x-subrip; charset=utf-8"),
        ("vtt", "text/vtt; charset=utf-8"),
        ("json", "application/json"),
    ],
)
def test_downloads(alice_client, jfk_job, fmt, content_type):
    response = alice_client.get(f"/transcripts/{jfk_job.public_id}/download.{fmt}")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == (f'attachment; filename="{jfk_job.public_id}.{fmt}"')
    body = response.content.decode()
    if fmt == "txt":
        assert words(body) == words(JFK_TEXT)
    elif fmt == "srt":
        assert body == render(jfk_job.result, response_format="srt")[0]
        cues = body.strip().split("\n\n")
        assert len(cues) == len(jfk_job.result["segments"])
        assert all(SRT_CUE.match(cue) for cue in cues)
    elif fmt == "vtt":
        assert body.startswith("WEBVTT\n\n00:00:00.000 --> ")
    else:
        data = json.loads(body)
        assert data["language"] == "english"
        assert data["duration"] == pytest.approx(11.0, abs=0.05)
        assert [s["text"] for s in data["segments"]] == [
            s["text"] for s in jfk_job.result["segments"]
        ]
        assert words(data["text"]) == words(JFK_TEXT)


def test_a_failed_job_has_no_downloads(alice_client, jfk_job):
    failed = clone(
        jfk_job,
        status=Job.Status.FAILED,
        result=None,
        text="",
        error_code="engine_error",
        error_message="The transcription engine failed on this audio.",
    )
    page = alice_client.get(f"/transcripts/{failed.public_id}/").content.decode()
    assert "engine_error" in page and "The transcription engine failed on this audio." in page
    assert "download." not in page
    assert alice_client.get(f"/transcripts/{failed.public_id}/download.srt").status_code == 404


def test_an_unknown_format_is_not_found(alice_client, jfk_job):
    response = alice_client.get(f"/transcripts/{jfk_job.public_id}/download.docx")
    assert response.status_code == 404
    assert "This page does not exist" in response.content.decode()
