"""A live turn's interim text: which words two previews agree on, a preview decoded by the
worker's service with the real model (and given up when its session moved on), the shorter
encoder window of live turns, and stale previews purged."""

from datetime import timedelta

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from faster_whisper import decode_audio

import speech as engine
from live.models import LivePreview
from live.services.preview_billing import PreviewCharge
from live.services.preview_decoding import (
    live_preview_run,
    live_preview_submit,
    live_preview_take,
    words_agreed,
)
from live.services.turn_jobs import LiveTranscription, turn_prompt
from speech import SAMPLE_RATE
from speech.windows import encoder_window, window_seconds_for
from tests.audio import JFK, words
from transcriptions.services import retention

take = async_to_sync(live_preview_take)  # a coroutine: the session awaits it


def preview(tenant, samples, prefix: str = "", charge: PreviewCharge | None = None) -> int | None:
    """live_preview_submit of tiny.en with no prompt: the preview's id (None: refused)."""
    return live_preview_submit(
        tenant=tenant,
        settings=LiveTranscription(model="tiny.en"),
        samples=samples,
        prefix=prefix,
        prompt="",
        charge=charge if charge is not None else PreviewCharge(),
    )


def jfk_start(seconds: float = 2.72) -> np.ndarray:
    """jfk.flac's first turn (2.72 s) as the session keeps it, or its first `seconds`: 16 kHz
    int16."""
    audio = decode_audio(str(JFK))[: int(seconds * SAMPLE_RATE)]
    return np.round(audio * 32767).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


# jfk.flac's turns as server VAD finds them (silence 500 ms), in seconds.
JFK_TURNS = ((0.02, 2.72), (3.03, 4.83), (5.14, 8.10), (8.10, 10.98))


@pytest.mark.parametrize(
    "sent, previous, latest, agreed",
    [
        ("", "", "And so", ""),  # one preview: nothing to agree with yet
        ("", "And so", "And so my", "And so"),
        ("", "And so my", "And so my fellow", "And so my"),
        ("And so", "And so my", "And so my fellow", " my"),
        ("", "And so", "Ask not", ""),
        ("", "And so, my", "And so my", "And"),  # punctuation is part of a word
        ("And so", "And so", "And so", ""),  # nothing new
        ("And so", "Ask not", "And so my", ""),  # a preview that does not start with it
        ("", "ask not what", "ask not what", "ask not what"),
    ],
)
def test_words_are_sent_once_two_previews_agree(sent, previous, latest, agreed):
    assert words_agreed(sent, previous, latest) == agreed


def test_window_for_a_turn_is_its_length_and_a_margin_at_least_ten_seconds():
    assert window_seconds_for(0.5) == 10
    assert window_seconds_for(9.0) == 10
    assert window_seconds_for(9.5) == 15
    assert window_seconds_for(17.0) == 20
    assert window_seconds_for(29.5) == 30
    assert window_seconds_for(300.0) == 30


def test_the_encoder_sees_only_the_window():
    """Inside encoder_window(10) the encoder gets 1000 mel frames of the padded 3000 (its
    output: 500 positions instead of 1500); outside it, all of them."""
    model = engine.get_model("tiny.en")
    features = np.zeros((model.model.n_mels, 3000), dtype=np.float32)
    with encoder_window(10):
        short = model.encode(features)
    full = model.encode(features)
    assert np.asarray(short).shape[1] == 500
    assert np.asarray(full).shape[1] == 1500


@pytest.mark.inference
def test_a_short_window_gives_the_full_windows_words_on_jfks_turns():
    """The same words (punctuation may differ: the last turn loses its full stop)."""
    audio = decode_audio(str(JFK))
    for start, end in JFK_TURNS:
        turn = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        full = engine.transcribe(turn, model_id="tiny.en", language="en")
        windowed = engine.transcribe(
            turn, model_id="tiny.en", language="en", window_seconds=window_seconds_for(end - start)
        )
        assert words(windowed.text) == words(full.text), (start, end)
        assert windowed.duration == full.duration


def test_turn_prompt_is_the_sessions_prompt_then_the_end_of_what_was_said():
    settings = LiveTranscription(model="tiny.en", prompt="ComfyUI")
    assert turn_prompt(settings, "") == "ComfyUI"
    assert turn_prompt(LiveTranscription(), " And so my fellow Americans. ") == (
        "And so my fellow Americans."
    )
    long = " ".join(f"word{n}" for n in range(100))
    prompt = turn_prompt(settings, long)
    assert prompt.startswith("ComfyUI word") and prompt.endswith("word99")
    assert len(prompt) <= len("ComfyUI ") + 200
    assert all(part.startswith("word") for part in prompt.split()[1:])  # cut at a word


@pytest.fixture
def stalled_previews(monkeypatch):
    """Previews are stored but no worker is given them (injected fault): the test runs them
    with live_preview_run, as the worker's task does."""
    monkeypatch.setattr("live.services.preview_decoding.async_task", lambda *a, **k: None)


@pytest.mark.inference
@pytest.mark.backend
@pytest.mark.django_db(transaction=True)
def test_a_preview_is_decoded_by_the_worker_service_and_read_once(tenant_a, stalled_previews):
    """jfk.flac's first 4 s ("And so, my fellow Americans, ask not"): its text but its last
    words, which the next second of speech may change (settled_text)."""
    pk = preview(tenant_a, jfk_start(4.0))
    row = LivePreview.objects.get(pk=pk)
    assert row.status == LivePreview.Status.QUEUED and row.model == "tiny.en"
    text = live_preview_run(pk)
    assert words(text) == ["and", "so", "my", "fellow", "americans"]
    assert live_preview_run(pk) is None  # decoded once
    assert take(pk, timeout=1.0) == text
    assert not LivePreview.objects.filter(pk=pk).exists()  # read once, then gone


@pytest.mark.inference
def test_words_have_their_probability_only_where_asked():
    """A preview's words carry faster-whisper's probabilities (settled_text reads them); no
    other decode's do: OpenAI's words have none, and a stored job's words are shown as they
    are."""
    audio = decode_audio(str(JFK))[: 4 * SAMPLE_RATE]
    plain = engine.transcribe(audio, model_id="tiny.en", word_timestamps=True)
    assert plain.words and all(set(word) == {"word", "start", "end"} for word in plain.words)
    scored = engine.transcribe(
        audio, model_id="tiny.en", word_timestamps=True, word_probabilities=True
    )
    assert [w["word"] for w in scored.words] == [w["word"] for w in plain.words]
    assert all(0.0 <= word["probability"] <= 1.0 for word in scored.words)


@pytest.mark.inference
@pytest.mark.backend
@pytest.mark.django_db(transaction=True)
def test_a_preview_is_queued_for_the_workers(tenant_a):
    """Through django-q2 (run at once by the test settings' sync cluster)."""
    pk = preview(tenant_a, jfk_start(4.0))
    assert "americans" in words(take(pk, timeout=1.0))


@pytest.mark.inference
@pytest.mark.django_db(transaction=True)
def test_a_preview_starts_with_the_words_already_sent(tenant_a, stalled_previews):
    pk = preview(tenant_a, jfk_start(), prefix="And so my")
    assert live_preview_run(pk).startswith("And so my")


@pytest.mark.django_db(transaction=True)
def test_a_preview_its_session_gave_up_is_not_decoded(tenant_a, stalled_previews):
    pk = preview(tenant_a, silence(1.0))
    assert take(pk, timeout=0.05) is None  # not decoded in time: given up
    assert live_preview_run(pk) is None  # the worker finds nothing to do


@pytest.mark.django_db(transaction=True)
def test_previews_left_behind_are_purged(tenant_a):
    def stored(age: timedelta) -> int:
        row = LivePreview.objects.create(tenant=tenant_a, model="tiny.en", samples=b"\0\0")
        LivePreview.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
        return row.pk

    old, recent = stored(timedelta(minutes=11)), stored(timedelta(seconds=5))
    assert retention.purge_expired()["live_previews"] == 1
    assert list(LivePreview.objects.values_list("pk", flat=True)) == [recent]
    assert old != recent


def test_only_turns_that_fit_the_shortest_window_get_it(settings):
    from live.services.turn_jobs import turn_window

    assert turn_window(2.7) == 10
    assert turn_window(9.0) == 10
    assert turn_window(11.0) == 0  # Whisper's own 30 s
    settings.REALTIME_FULL_WINDOW = True
    assert turn_window(2.7) == 0


@pytest.mark.inference
@pytest.mark.backend
@pytest.mark.django_db(transaction=True)
def test_a_preview_gives_way_to_a_clients_waiting_chunk(api_a, stalled_queue, stalled_previews):
    """A committed turn (or a synchronous request) waits for a worker: the worker that meets a
    preview skips it, and the session hears at once."""
    from tests.transcriptions.test_jobs_api import submit
    from transcriptions.models import Chunk

    assert submit(api_a).status_code == 202
    Chunk.objects.update(interactive=True)  # as a live turn's chunk is
    pk = preview(api_a.tenant, silence(1.0))
    assert live_preview_run(pk) is None
    assert LivePreview.objects.get(pk=pk).status == LivePreview.Status.FAILED
    assert take(pk, timeout=5.0) is None
    Chunk.objects.update(interactive=False)  # only a batch chunk waits: previews go first
    pk = preview(api_a.tenant, silence(1.0))
    assert live_preview_run(pk) is not None


@pytest.mark.django_db(transaction=True)
def test_no_interim_text_without_the_quota_for_the_turn_so_far(tenant_a, stalled_previews):
    """An attacker over its quota would get each turn's text from the previews while the turn
    itself is refused at commit: previews need the seconds the turn has so far."""
    from billing.selectors import quota_status
    from billing.services import plan_override_set

    plan_override_set(tenant=tenant_a, monthly_audio_seconds=2)

    assert preview(tenant_a, silence(2.7)) is None
    assert not LivePreview.objects.exists()
    # The seconds are held for the turn before its preview is queued: its next, longer
    # preview holds only the difference, and what the month has not is refused.
    charge = PreviewCharge()
    assert preview(tenant_a, silence(1.5), charge=charge) is not None
    assert preview(tenant_a, silence(1.9), charge=charge) is not None
    assert quota_status(tenant=tenant_a).reserved_seconds == charge.held == 2
    assert preview(tenant_a, silence(2.1), charge=charge) is None
    assert quota_status(tenant=tenant_a).reserved_seconds == 2
