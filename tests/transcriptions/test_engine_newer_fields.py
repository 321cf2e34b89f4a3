"""The engine's side of OpenAI's newer fields: per-token log probabilities read from
faster-whisper's own decoder (engine/logprobs.py), keywords as faster-whisper's hotwords, and
language detection among candidate languages. Real models, real audio."""

import numpy as np
import pytest
from faster_whisper.audio import decode_audio, pad_or_trim

import speech as engine
from speech import logprobs as token_scores
from tests.audio import GERMAN_START, JFK, MULTILINGUAL

# What decode_options() gave before the newer fields: the bare engine of the benchmark decodes
# exactly so, and so does every request that sets none of them.
PLAIN_OPTIONS = {
    "task": "transcribe",
    "language": None,
    "initial_prompt": None,
    "temperature": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
    "beam_size": 5,
    "word_timestamps": False,
    "vad_filter": False,
}


def test_decode_options_are_unchanged_without_keywords():
    assert engine.decode_options() == PLAIN_OPTIONS
    assert engine.decode_options(keywords=()) == PLAIN_OPTIONS


def test_keywords_become_one_hotwords_phrase():
    options = engine.decode_options(keywords=["ComfyUI", " Stable Diffusion ", ""])
    assert options == {**PLAIN_OPTIONS, "hotwords": "ComfyUI, Stable Diffusion"}


@pytest.fixture(scope="module")
def german() -> np.ndarray:
    samples = decode_audio(str(MULTILINGUAL), sampling_rate=16000)
    return samples[int(GERMAN_START * 16000) :]


@pytest.mark.inference
def test_detection_picks_the_likeliest_candidate(german):
    assert engine.detect_language(german, model_id="base") == "de"
    assert engine.detect_language(german, model_id="base", candidates=["en", "de"]) == "de"
    assert engine.detect_language(german, model_id="base", candidates=["de"]) == "de"
    picked = engine.detect_language(german, model_id="base", candidates=["nl", "en"])
    assert picked in ("nl", "en")
    model = engine.get_model("base")
    _, _, probabilities = model.detect_language(audio=german)
    probabilities = dict(probabilities)
    assert probabilities[picked] == max(probabilities["nl"], probabilities["en"])


def test_an_english_only_model_is_english_whatever_the_candidates(german):
    assert engine.detect_language(german, model_id="tiny.en", candidates=["en"]) == "en"


def assert_spells(result) -> None:
    assert result.logprobs
    joined = b"".join(bytes(item["bytes"]) for item in result.logprobs).decode()
    assert joined.strip() == result.text
    assert all(item["logprob"] <= 0 for item in result.logprobs)


@pytest.mark.inference
@pytest.mark.parametrize("model_id", ["tiny.en", "base"])
def test_logprobs_are_per_token_and_change_nothing_else(model_id):
    plain = engine.transcribe(str(JFK), model_id=model_id)
    scored = engine.transcribe(str(JFK), model_id=model_id, logprobs=True)
    assert plain.logprobs is None
    assert (scored.text, scored.segments) == (plain.text, plain.segments)
    assert_spells(scored)
    # One entry per text token of the segments (timestamps and special tokens left out).
    eot = engine.get_model(model_id).hf_tokenizer.token_to_id("<|endoftext|>")
    text_tokens = [t for s in scored.segments for t in s["tokens"] if t < eot]
    assert len(scored.logprobs) == len(text_tokens)
    # And a decode afterwards, without logprobs, is as before: the wrappers are inert.
    again = engine.transcribe(str(JFK), model_id=model_id)
    assert (again.text, again.segments, again.logprobs) == (plain.text, plain.segments, None)


def test_the_values_are_the_decoders_own_step_scores_up_to_the_timestamps():
    """Where CTranslate2 gives per-step log probabilities (a greedy decode: none for beam
    search), the teacher-forced values of engine/logprobs.py agree with them: they differ only
    by the mass of the timestamp and suppressed tokens."""
    model = engine.get_model("tiny.en")
    audio = decode_audio(str(JFK), sampling_rate=16000)
    features = model.feature_extractor(audio)[..., : model.feature_extractor.nb_max_frames]
    encoder_output = model.encode(pad_or_trim(features))
    prompt = [model.hf_tokenizer.token_to_id("<|startoftranscript|>")]
    decoded = model.model.generate(
        encoder_output, [prompt], beam_size=1, return_logits_vocab=True, max_length=448
    )[0]
    tokens = decoded.sequences_ids[0]
    ours = token_scores.token_logprobs(model.model, encoder_output, prompt, tokens)
    eot = model.hf_tokenizer.token_to_id("<|endoftext|>")
    differences = []
    for step, (token, value) in enumerate(zip(tokens, ours, strict=True)):
        if token >= eot:
            assert value is None  # timestamps: no value (and no entry)
            continue
        row = np.asarray(decoded.logits[0][step], dtype=np.float64)
        finite = row > -1e30
        top = row[finite].max()
        log_total = top + np.log(np.exp(row[finite] - top).sum())
        step_logprob = row[token] - log_total
        # Over the text tokens only, a value exceeds the step's by -log of their share of the
        # step's probability (the rest is the timestamps' and the special tokens').
        text_share = np.exp(row[:eot][finite[:eot]] - log_total).sum()
        differences.append(value - step_logprob + np.log(text_share))
    assert len(differences) > 15
    # What is left is int8 arithmetic: the align pass and the decode compute the same values
    # by different kernels (measured: at most 0.18 on one CPU, 0.01 on average).
    assert max(abs(d) for d in differences) < 0.3
    assert abs(float(np.mean(differences))) < 0.05


@pytest.mark.inference
def test_logprobs_with_word_timestamps_and_a_chunk_of_german():
    samples = decode_audio(str(MULTILINGUAL), sampling_rate=16000)
    german = samples[int(GERMAN_START * 16000) : int((GERMAN_START + 12) * 16000)]
    result = engine.transcribe(
        german, model_id="base", language="de", word_timestamps=True, logprobs=True
    )
    assert result.words
    assert_spells(result)


def test_a_segment_the_recorder_cannot_place_gets_no_logprob_values():
    recorder = token_scores.Recorder()
    recorder.tokens, recorder.logprobs = [1, 2, 3, 4], [-0.1, -0.2, -0.3, -0.4]
    assert recorder.segment_logprobs([2, 3]) == [-0.2, -0.3]
    assert recorder.segment_logprobs([2, 3]) is None  # runs come in order: not again
    assert recorder.segment_logprobs([4]) == [-0.4]
