"""OpenAI's messages for invalid /v1/audio requests, and the limits they name.

Shared by the request serializers (requests.py), which raise them, and the OpenAPI request
forms (api/schema/forms.py), which document the limits.
"""

import re

GRANULARITIES = ("word", "segment")

MSG_MISSING = "You must provide a '{field}' parameter."
MSG_FORMAT = (
    "Invalid value: '{value}'. Supported values are: 'json', 'text', 'srt', 'verbose_json', "
    "and 'vtt'."
)
MSG_LANGUAGE = (
    "Invalid language '{value}'. Language parameter must be specified in ISO-639-1 format."
)
MSG_TEMPERATURE_TYPE = (
    "Invalid type for 'temperature': expected a decimal, but got a string instead."
)
MSG_TEMPERATURE_MAX = (
    "Invalid 'temperature': decimal above maximum value. Expected a value <= 1, but got {value} "
    "instead."
)
MSG_TEMPERATURE_MIN = (
    "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got {value} "
    "instead."
)
MSG_GRANULARITY_VALUE = "Invalid value: '{value}'. Supported values are: 'word' and 'segment'."
MSG_GRANULARITY_FORMAT = (
    "`response_format` must be `verbose_json` if `timestamp_granularities[]` is provided"
)
MSG_STREAM = "Invalid value for 'stream': expected a boolean."
MSG_STREAM_FORMAT = "Streaming is only supported with response_format 'json' or 'text'."
# OpenAI's answer to a format its gpt-4o models do not give (openai/openai-dotnet#401,
# lfnovo/esperanto#204: 400 invalid_request_error, param response_format, unsupported_value).
MSG_MODEL_FORMAT = (
    "response_format '{value}' is not compatible with model '{model}'. Use 'json' or 'text' "
    "instead."
)
# The same sentence for every model, naming the formats the model does give (MSG_MODEL_FORMAT
# for the gpt-4o ids; diarized_json, the diarizing model's, is refused by the others so too).
MSG_MODEL_FORMATS = (
    "response_format '{value}' is not compatible with model '{model}'. Use {formats} instead."
)


# `include[]`, `keywords[]`, `languages[]`. OpenAI's own text for these refusals could not be
# found; they follow its patterns for an unknown value (MSG_FORMAT), a value a model does not
# support ("Unsupported value: 'temperature' does not support 0.7 with this model. ...") and
# an array or string over its limit ("Invalid 'tools': array too long. Expected an array with
# maximum length 128, but got an array with length 200 instead.").
MSG_INCLUDE_VALUE = "Invalid value: '{value}'. Supported values are: 'logprobs'."
MSG_LOGPROBS_MODEL = (
    "Unsupported value: 'include' does not support 'logprobs' with this model. Use "
    "'gpt-4o-transcribe' or 'gpt-4o-mini-transcribe'."
)
MSG_LOGPROBS_FORMAT = (
    "Unsupported value: 'include' does not support 'logprobs' with response_format '{value}'. "
    "Use 'json' instead."
)
MSG_KEYWORDS_COUNT = (
    "Invalid 'keywords': array too long. Expected an array with maximum length {limit}, but "
    "got an array with length {count} instead."
)
MSG_KEYWORD_LENGTH = (
    "Invalid 'keywords[{index}]': string too long. Expected a string with maximum length "
    "{limit}, but got a string with length {length} instead."
)
# OpenAI gives `keywords` no limit; ours keep the decoder's prompt in bounds (faster-whisper
# cuts hotwords at half the model's 448-token context anyway).
MAX_KEYWORDS = 100
MAX_KEYWORD_LENGTH = 100
# gpt-4o-transcribe-diarize's known speakers (openai-python `TranscriptionCreateParams`:
# "Up to 4 speakers are supported"; each reference "must be between 2 and 10 seconds", a data
# URL). OpenAI's own texts for these refusals could not be found; they follow its patterns for
# an array over its limit (MSG_KEYWORDS_COUNT), a parameter a model does not take
# ("Unsupported parameter: 'temperature' is not supported with this model.") and an invalid
# value ("Invalid 'input[0]': ...").
MAX_KNOWN_SPEAKERS = 4
REFERENCE_SECONDS = (2.0, 10.0)
MSG_KNOWN_COUNT = (
    "Invalid '{field}': array too long. Expected an array with maximum length {limit}, but "
    "got an array with length {count} instead."
)
MSG_KNOWN_MISMATCH = (
    "Invalid 'known_speaker_references': expected as many references as "
    "'known_speaker_names' ({names}), but got {references} instead."
)
MSG_KNOWN_MODEL = (
    "Unsupported parameter: '{field}' is not supported with this model. Use "
    "'gpt-4o-transcribe-diarize'."
)
# openai-python `TranscriptionCreateParams.prompt`: "This field is not supported when using
# `gpt-4o-transcribe-diarize`" (OpenAI's pattern for a parameter a model does not take).
MSG_PROMPT_MODEL = "Unsupported parameter: 'prompt' is not supported with this model."
MSG_KNOWN_NAME = "Invalid 'known_speaker_names[{index}]': expected a non-empty string."
MSG_REFERENCE_URL = (
    "Invalid 'known_speaker_references[{index}]': expected a data URL of audio "
    "(data:audio/wav;base64,...)."
)
MSG_REFERENCE_AUDIO = "Invalid 'known_speaker_references[{index}]': the audio could not be decoded."
MSG_REFERENCE_LENGTH = (
    "Invalid 'known_speaker_references[{index}]': the audio must be between 2 and 10 seconds long."
)
DATA_URL = re.compile(r"^data:[^,;]*(?:;[^,;]*)*;base64,(?P<data>.*)$", re.DOTALL)
KNOWN_FIELDS = ("known_speaker_names", "known_speaker_references")
# Multipart array fields: the SDK sends `name[]` parts, one per value (curl users may send
# `name` several times).
LIST_FIELDS = ("timestamp_granularities", "include", "keywords", "languages", *KNOWN_FIELDS)

# POST /v1/audio/jobs: its own fields and its refusal of streaming.
MSG_TASK = "Invalid value: '{value}'. Supported values are: 'transcribe' and 'translate'."
MSG_CALLBACK_URL = "Invalid 'callback_url': expected an http:// or https:// URL."
MSG_ASYNC_STREAM = "Streaming is not available for async jobs; poll the job or use callback_url."
