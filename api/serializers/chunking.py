"""OpenAI's `chunking_strategy` on /v1/audio/transcriptions (and /v1/audio/jobs).

OpenAI's parameter (openapi.yaml `CreateTranscriptionRequest.chunking_strategy`, openai-python
`types/audio/transcription_create_params.py`) is `"auto"` or a `VadConfig` object:
`{"type": "server_vad", "prefix_padding_ms": int, "silence_duration_ms": int, "threshold":
float}`, `type` required, no other key (`additionalProperties: false`). It arrives as:

- `chunking_strategy=auto`, a plain form field;
- the form fields the openai SDK makes of the object (`_base_client._serialize_multipartform`
  with `_qs` nested_format "brackets"): `chunking_strategy[type]=server_vad`,
  `chunking_strategy[threshold]=0.5`, ..., every value a string;
- a JSON object in the one field, `chunking_strategy={"type": "server_vad", ...}` (what curl
  users and other SDKs, e.g. go-openai, send), whose values are typed.

`chunking_strategy_parse` turns any of these into one normalized dict, OpenAI's defaults
filled in: `{"type": "auto"}`, or `{"type": "server_vad", "prefix_padding_ms": 300,
"silence_duration_ms": 200, "threshold": 0.5}`. Absent means "auto" here (unlike OpenAI, where
unset means one block): long audio is always cut at silences so its chunks run in parallel.

Errors are DRF ValidationErrors; a nested field's is a dict under its key, which api.errors
turns into the dotted `param` (`chunking_strategy.threshold`), as OpenAI names nested params.
"""

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

PARAM = "chunking_strategy"
AUTO = "auto"
SERVER_VAD = "server_vad"

# OpenAI's defaults (openapi.yaml, components.schemas.VadConfig).
PREFIX_PADDING_MS_DEFAULT = 300
SILENCE_DURATION_MS_DEFAULT = 200
THRESHOLD_DEFAULT = 0.5
# OpenAI documents the threshold as "0.0 to 1.0" and gives the durations no limit. Ours: a
# duration is 0 to one minute (longer silences or paddings mean nothing to the chunker, and a
# huge integer must not reach the engine).
THRESHOLD_MIN, THRESHOLD_MAX = 0, 1
MS_MIN, MS_MAX = 0, 60_000
VAD_KEYS = ("type", "prefix_padding_ms", "silence_duration_ms", "threshold")

# --- Messages ---------------------------------------------------------------------------------
# OpenAI's own wording, as its API answers for other parameters (nested ones named with dots,
# e.g. "Unknown parameter: 'input[2].status'.", "Missing required parameter:
# 'response_format.json_schema.schema'.", "Invalid type for 'temperature': expected a decimal,
# but got a string instead.", "Invalid 'max_output_tokens': integer below minimum value.
# Expected a value >= 16, but got 8 instead."):
MSG_UNKNOWN_KEY = "Unknown parameter: '{param}'."
MSG_MISSING_TYPE = "Missing required parameter: 'chunking_strategy.type'."
MSG_TYPE = "Invalid type for '{param}': expected {expected}, but got {got} instead."
MSG_INTEGER_MIN = (
    "Invalid '{param}': integer below minimum value. Expected a value >= {limit}, but got "
    "{value} instead."
)
MSG_INTEGER_MAX = (
    "Invalid '{param}': integer above maximum value. Expected a value <= {limit}, but got "
    "{value} instead."
)
MSG_DECIMAL_MIN = (
    "Invalid '{param}': decimal below minimum value. Expected a value >= {limit}, but got "
    "{value} instead."
)
MSG_DECIMAL_MAX = (
    "Invalid '{param}': decimal above maximum value. Expected a value <= {limit}, but got "
    "{value} instead."
)
# OpenAI's text for these could not be found: they follow its pattern for an unknown value
# (our MSG_FORMAT, MSG_TASK) and for an invalid parameter (our MSG_CALLBACK_URL).
MSG_VALUE = "Invalid value: '{value}'. Supported values are: 'auto'."
MSG_VAD_TYPE = "Invalid value: '{value}'. Supported values are: 'server_vad'."
MSG_JSON = (
    "Invalid 'chunking_strategy': expected 'auto' or a JSON object, but the value is not "
    "valid JSON."
)
MSG_BOTH = (
    "Invalid 'chunking_strategy': send either one value ('auto' or a JSON object) or the "
    "chunking_strategy[...] fields, not both."
)

_BRACKETED = re.compile(r"^chunking_strategy\[(.*)\]$")


class FormParts(dict):
    """The `chunking_strategy[...]` fields of a multipart form, by inner name: string values,
    converted as a form's are (`"300"` is an integer), where a JSON object's are typed."""


def bracketed_parts(form: Mapping[str, Any]) -> FormParts:
    """The chunking_strategy[...] fields of a form (`chunking_strategy[a][b]` is `a.b`); empty
    values are left out, as the SDK leaves out None."""
    parts = FormParts()
    for key in form:
        match = _BRACKETED.match(key)
        if match:
            value = form[key]
            if value not in (None, ""):
                parts[match.group(1).replace("][", ".")] = value
    return parts


def chunking_strategy_parse(value: Any) -> dict[str, Any]:
    """The normalized chunking strategy of a request's `chunking_strategy`.

    `value`: None or "" (absent), "auto", a JSON object as a string, a decoded JSON object
    (dict), or the form's bracketed fields (FormParts). Raises serializers.ValidationError
    with OpenAI's message and code; a nested field's error is a dict under its key.
    """
    if value is None:
        return {"type": AUTO}
    if isinstance(value, str):
        text = value.strip()
        if text in ("", AUTO):
            return {"type": AUTO}
        if not text.startswith("{"):
            raise _error(MSG_VALUE.format(value=value), "unsupported_value")
        try:
            value = json.loads(text, parse_constant=_no_constant)
        except ValueError:
            raise _error(MSG_JSON, "invalid_value") from None
    if not isinstance(value, Mapping):
        raise _error(
            MSG_TYPE.format(
                param=PARAM, expected="one of a string or an object", got=_json_type(value)
            ),
            "invalid_type",
        )
    return _vad_config(value, form=isinstance(value, FormParts))


def _vad_config(config: Mapping[str, Any], *, form: bool) -> dict[str, Any]:
    """`type` (required) is checked first, then unknown keys, then the values in order."""
    if "type" not in config:
        raise _nested_error("type", MSG_MISSING_TYPE, "missing_required_parameter")
    kind = config["type"]
    if not isinstance(kind, str):
        raise _nested_error("type", _type_message("type", "a string", kind), "invalid_type")
    if kind != SERVER_VAD:
        raise _nested_error("type", MSG_VAD_TYPE.format(value=kind), "unsupported_value")
    for key in config:
        if key not in VAD_KEYS:
            message = MSG_UNKNOWN_KEY.format(param=f"{PARAM}.{key}")
            raise _nested_error(key, message, "unknown_parameter")
    return {
        "type": SERVER_VAD,
        "prefix_padding_ms": _milliseconds(
            config, "prefix_padding_ms", PREFIX_PADDING_MS_DEFAULT, form=form
        ),
        "silence_duration_ms": _milliseconds(
            config, "silence_duration_ms", SILENCE_DURATION_MS_DEFAULT, form=form
        ),
        "threshold": _threshold(config, form=form),
    }


def _milliseconds(config: Mapping[str, Any], key: str, default: int, *, form: bool) -> int:
    if key not in config:
        return default
    raw = config[key]
    number = _number_from_form(raw) if form else raw
    if isinstance(number, bool) or not isinstance(number, int | float):
        got = "a string" if form else _json_type(raw)
        raise _nested_error(key, _type_message(key, "an integer", raw, got=got), "invalid_type")
    if isinstance(number, float):
        if not math.isfinite(number) or not number.is_integer():
            message = _type_message(key, "an integer", raw, got="a decimal")
            raise _nested_error(key, message, "invalid_type")
        number = int(number)
    param = f"{PARAM}.{key}"
    if number < MS_MIN:
        message = MSG_INTEGER_MIN.format(param=param, limit=MS_MIN, value=raw)
        raise _nested_error(key, message, "integer_below_min_value")
    if number > MS_MAX:
        message = MSG_INTEGER_MAX.format(param=param, limit=MS_MAX, value=raw)
        raise _nested_error(key, message, "integer_above_max_value")
    return number


def _threshold(config: Mapping[str, Any], *, form: bool) -> float:
    key = "threshold"
    if key not in config:
        return THRESHOLD_DEFAULT
    raw = config[key]
    number = _number_from_form(raw) if form else raw
    if isinstance(number, bool) or not isinstance(number, int | float) or number != number:
        got = "a string" if form else _json_type(raw)
        raise _nested_error(key, _type_message(key, "a decimal", raw, got=got), "invalid_type")
    param = f"{PARAM}.{key}"
    if number > THRESHOLD_MAX:
        message = MSG_DECIMAL_MAX.format(param=param, limit=THRESHOLD_MAX, value=raw)
        raise _nested_error(key, message, "decimal_above_max_value")
    if number < THRESHOLD_MIN:
        message = MSG_DECIMAL_MIN.format(param=param, limit=THRESHOLD_MIN, value=raw)
        raise _nested_error(key, message, "decimal_below_min_value")
    return float(number)


def _number_from_form(raw: Any) -> Any:
    """A form field's number: an int for "300", a float for "0.5" (and for "inf" or "nan",
    which the checks refuse), the text itself when it is no number."""
    if not isinstance(raw, str):
        return raw
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python's json would take them


def _json_type(value: Any) -> str:
    """How OpenAI names a JSON value's type in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    return "an object"


def _type_message(key: str, expected: str, raw: Any, *, got: str | None = None) -> str:
    return MSG_TYPE.format(param=f"{PARAM}.{key}", expected=expected, got=got or _json_type(raw))


def _error(message: str, code: str) -> serializers.ValidationError:
    return serializers.ValidationError(message, code=code)


def _nested_error(key: str, message: str, code: str) -> serializers.ValidationError:
    return serializers.ValidationError({key: [message]}, code=code)
