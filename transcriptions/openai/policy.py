"""What OpenAI lets each of its transcription model ids do, which the platform's models of the
same names (settings.WHISPER_MODEL_ALIASES) reproduce, whatever local model they run on.

OpenAI (openai-python `types/audio/transcription_create_params.py`, openapi.yaml
`CreateTranscriptionRequest`): "For `gpt-4o-transcribe` and `gpt-4o-mini-transcribe`, the only
supported format is `json`" (its API answers `text` too: its refusal of the others says "Use
'json' or 'text' instead."); "`logprobs` only works with response_format set to `json` and only
with the models `gpt-4o-transcribe`, `gpt-4o-mini-transcribe`, and
`gpt-4o-mini-transcribe-2025-12-15`". `whisper-1` (and the registry's own ids) take every
format and no `include[]`.

"For `gpt-4o-transcribe-diarize`, the supported formats are `json`, `text`, and
`diarized_json`, with `diarized_json` required to receive speaker annotations"; `include[]`
"is not supported when using `gpt-4o-transcribe-diarize`". `diarized_json` is that model's
only: the others refuse it.
"""

GPT_4O_TRANSCRIBE_MODELS = (
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
)
GPT_4O_RESPONSE_FORMATS = ("json", "text")
DIARIZE_MODELS = ("gpt-4o-transcribe-diarize",)
DIARIZED_JSON = "diarized_json"
DIARIZE_RESPONSE_FORMATS = ("json", "text", DIARIZED_JSON)
# What every other model id answers in (OpenAI's five).
WHISPER_RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
LOGPROBS = "logprobs"  # the one value of `include[]`
INCLUDE_VALUES = (LOGPROBS,)


def response_formats(requested_model: str) -> tuple[str, ...]:
    """The response formats a model id answers in."""
    if requested_model in GPT_4O_TRANSCRIBE_MODELS:
        return GPT_4O_RESPONSE_FORMATS
    if requested_model in DIARIZE_MODELS:
        return DIARIZE_RESPONSE_FORMATS
    return WHISPER_RESPONSE_FORMATS


def diarizes(requested_model: str) -> bool:
    """Whether a model id's transcripts carry speakers (diarization of the whole file)."""
    return requested_model in DIARIZE_MODELS


def reports_tokens(requested_model: str) -> bool:
    """Whether a model id's `usage` counts tokens, as OpenAI bills gpt-4o-transcribe and
    gpt-4o-mini-transcribe (openai-python `UsageTokens`); every other id's is its duration,
    `gpt-4o-transcribe-diarize`'s too (the shape of OpenAI's diarized_json reference)."""
    return requested_model in GPT_4O_TRANSCRIBE_MODELS


def supports_logprobs(requested_model: str) -> bool:
    return requested_model in GPT_4O_TRANSCRIBE_MODELS
