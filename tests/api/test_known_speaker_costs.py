"""What known_speaker_references[] cost the web process (issue 25): the references are only
probed there (a data URL holding 2-10 s of audio, by demuxing); they are decoded and embedded by
the worker that runs the job, once the file is probed and its seconds reserved. The speaker
encoder's weights are fetched by `manage.py fetch_speaker_encoder` (`make install`), never on a
request's or a job's way: a worker without them fails the job with an error naming the command."""

import io

import pytest
from django.core.files.storage import default_storage

from billing.models import UsageRecord
from speech import diarization, limits, speaker_encoder
from speech.audio import MSG_UNDECODABLE
from tests.api.test_diarized import DIARIZE, reference
from tests.audio import JFK
from tests.conftest import assert_error
from transcriptions.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = ["north", "south", "east", "west"]


@pytest.fixture
def heavy_work(monkeypatch):
    """Counts each call of what decodes or embeds a reference (the spies only observe)."""
    calls = {"decode": 0, "embed": 0, "encoder": 0}

    def spy(name, owner, attribute):
        real = getattr(owner, attribute)

        def counted(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, attribute, counted)

    spy("decode", limits, "decode_bounded")
    spy("embed", diarization, "embed")
    spy("encoder", speaker_encoder.CAMPPlus, "frames")
    return calls


def four_references(api, audio: bytes, **fields):
    fh = io.BytesIO(audio)
    fh.name = "meeting.wav"
    references = [reference("jfk", seconds=3.4), reference("allison", seconds=7.0)] * 2
    data = {
        "file": fh,
        "model": DIARIZE,
        "response_format": "diarized_json",
        "known_speaker_names[]": NAMES,
        "known_speaker_references[]": references,
        **fields,
    }
    return api.client.post("/v1/audio/transcriptions", data, format="multipart")


def test_a_junk_file_is_refused_before_any_reference_is_decoded(api_a, heavy_work):
    """It used to cost seconds of the web process's CPU: the four references decoded and
    embedded, then the 10-byte file refused."""
    response = four_references(api_a, b"not audio!")
    assert_error(response, 400, code="invalid_value", param="file", message=MSG_UNDECODABLE)
    assert heavy_work == {"decode": 0, "embed": 0, "encoder": 0}
    assert not Job.objects.exists()


def test_a_tenant_without_quota_is_refused_before_any_reference_is_decoded(
    api_a, heavy_work, set_limits
):
    set_limits(api_a.tenant, monthly_audio_seconds=5)  # jfk.flac is 11 s
    response = four_references(api_a, JFK.read_bytes())
    assert_error(response, 429, code="insufficient_quota", type="insufficient_quota")
    assert heavy_work == {"decode": 0, "embed": 0, "encoder": 0}
    assert not Job.objects.exists()


@pytest.fixture
def set_limits():
    from billing.services import plan_override_set

    return lambda tenant, **values: plan_override_set(tenant=tenant, **values)


@pytest.fixture
def no_encoder_copy(settings, tmp_path, monkeypatch):
    """A machine where `fetch_speaker_encoder` never ran, and fetching it would be a fault."""
    settings.WHISPER_CACHE_DIR = tmp_path
    settings.DIARIZATION_ENCODER = {"member": "no_such_package/pretrained.pt"}
    fetched = []

    def download(*args, **kwargs):
        fetched.append(args)
        raise AssertionError("the speaker encoder was downloaded on a request's way")

    monkeypatch.setattr(speaker_encoder, "_download_wheel", download)
    # No encoder loaded in this process yet (monkeypatch puts back the one there was).
    monkeypatch.setattr(speaker_encoder, "_encoder", None)
    yield fetched


def test_a_missing_encoder_is_never_downloaded_and_the_error_names_the_command(
    api_a, no_encoder_copy
):
    response = four_references(api_a, JFK.read_bytes())
    assert no_encoder_copy == []
    from transcriptions.services.speakers import MSG_ENCODER_MISSING

    error = assert_error(
        response,
        500,
        code="speaker_encoder_unavailable",
        type="server_error",
        message=MSG_ENCODER_MISSING,
    )
    assert "manage.py fetch_speaker_encoder" in error["message"]
    job = Job.objects.get()
    assert (job.status, job.error_code) == (Job.Status.FAILED, "speaker_encoder_unavailable")
    # Refunded: nothing billed for a job that could not run.
    assert UsageRecord.objects.get(job_id=job.public_id).billed_seconds == 0
    # Its references were stored beside its audio, and went with it.
    references = [speaker["reference"] for speaker in job.known_speakers]
    assert len(references) == 4 and not any(map(default_storage.exists, references))


def test_kept_audio_keeps_its_references_until_the_job_is_deleted(api_a, no_encoder_copy, settings):
    settings.RETAIN_AUDIO = True  # an operator may retry the job once the encoder is there
    four_references(api_a, JFK.read_bytes())
    job = Job.objects.get()
    references = [speaker["reference"] for speaker in job.known_speakers]
    assert job.audio and all(map(default_storage.exists, references))
    assert api_a.client.delete(f"/v1/audio/jobs/{job.public_id}").status_code == 200
    assert not any(map(default_storage.exists, references))


def test_the_encoder_is_looked_up_offline(no_encoder_copy):
    with pytest.raises(speaker_encoder.ModelUnavailable, match="fetch_speaker_encoder"):
        speaker_encoder.get_encoder()
    assert no_encoder_copy == []


def test_a_diarizing_job_without_the_encoder_fails_before_it_is_transcribed(
    api_a, no_encoder_copy, monkeypatch
):
    """Without known speakers too: the encoder is looked for before any decoding, not after."""
    import speech as engine

    transcribed = []
    real = engine.transcribe

    def counted(*args, **kwargs):  # observes only
        transcribed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "transcribe", counted)
    fh = io.BytesIO(JFK.read_bytes())
    fh.name = "jfk.flac"
    response = api_a.client.post(
        "/v1/audio/transcriptions", {"file": fh, "model": DIARIZE}, format="multipart"
    )
    assert_error(response, 500, code="speaker_encoder_unavailable", type="server_error")
    assert transcribed == [] and no_encoder_copy == []


def test_an_embedding_of_another_encoder_is_taken_again(api_a, settings, heavy_work):
    """A job queued before the speaker encoder changed holds embeddings of another size: the
    worker embeds those references again (they are kept until the job ends) and no other."""
    from transcriptions.services.speakers import known_speakers_embed

    settings.RETAIN_AUDIO = True
    assert four_references(api_a, JFK.read_bytes()).status_code == 200
    job = Job.objects.get()
    current = [speaker["embedding"] for speaker in job.known_speakers]
    stale = [dict(speaker) for speaker in job.known_speakers]
    stale[1]["embedding"] = [0.0625] * 256  # Resemblyzer's size
    Job.objects.filter(pk=job.pk).update(known_speakers=stale)
    job.refresh_from_db()
    before = heavy_work["embed"]
    embedded = known_speakers_embed(job)
    assert heavy_work["embed"] == before + 1
    assert [len(v) for v in embedded.values()] == [diarization.EMBEDDING_SIZE] * 4
    job.refresh_from_db()
    assert [speaker["embedding"] for speaker in job.known_speakers] == current
