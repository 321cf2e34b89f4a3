"""What OpenAI lets each of its transcription model ids do, which the platform's models of the
same names (settings.WHISPER_MODEL_ALIASES) reproduce, whatever local model they run on.

OpenAI (openai-python `types/audio/transcription_create_params.py`, openapi.yaml
`CreateTranscriptionRequest`): "For `gpt-4o-transcribe` and `gpt-4o-mini-transcribe`, the only
supported format is `json`" (its API answers `text` too: its refusal of the others says "Use
'json' or 'text' instead."); "`logprobs` only works with response_format set to `json` and only
with the models `gpt-4o-transcribe`, `gpt-4o-mini-transcribe`, and
`gpt-4o-mini-transcribe-2025-12-15`". `whisper-1` (and the registry's own ids) take every
format and no `include[]`.
"""

GPT_4O_TRANSCRIBE_MODELS = (
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
)
GPT_4O_RESPONSE_FORMATS = ("json", "text")
LOGPROBS = "logprobs"  # the one value of `include[]`
INCLUDE_VALUES = (LOGPROBS,)


def response_formats(requested_model: str) -> tuple[str, ...] | None:
    """The response formats a model id answers in; None when it has OpenAI's five."""
    if requested_model in GPT_4O_TRANSCRIBE_MODELS:
        return GPT_4O_RESPONSE_FORMATS
    return None


def supports_logprobs(requested_model: str) -> bool:
    return requested_model in GPT_4O_TRANSCRIBE_MODELS
