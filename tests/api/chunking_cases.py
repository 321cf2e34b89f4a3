"""The `chunking_strategy` values of the parse tests and the endpoint tests: OpenAI's defaults,
and every refused value with OpenAI's exact error."""

from api.serializers.chunking import FormParts

AUTO = {"type": "auto"}
VAD_DEFAULTS = {
    "type": "server_vad",
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "threshold": 0.5,
}


def vad(**parts) -> FormParts:
    return FormParts(type="server_vad", **parts)


# (value, param, code, exact message): what the parse function refuses, as the API answers it.
REFUSED = [
    (
        "manual",
        "chunking_strategy",
        "unsupported_value",
        "Invalid value: 'manual'. Supported values are: 'auto'.",
    ),
    (
        "AUTO",
        "chunking_strategy",
        "unsupported_value",
        "Invalid value: 'AUTO'. Supported values are: 'auto'.",
    ),
    (
        "server_vad",
        "chunking_strategy",
        "unsupported_value",
        "Invalid value: 'server_vad'. Supported values are: 'auto'.",
    ),
    (
        '{"type": "server_vad",',
        "chunking_strategy",
        "invalid_value",
        "Invalid 'chunking_strategy': expected 'auto' or a JSON object, but the value is not "
        "valid JSON.",
    ),
    (
        '{"type": "server_vad", "threshold": NaN}',
        "chunking_strategy",
        "invalid_value",
        "Invalid 'chunking_strategy': expected 'auto' or a JSON object, but the value is not "
        "valid JSON.",
    ),
    (
        FormParts(threshold="0.5"),
        "chunking_strategy.type",
        "missing_required_parameter",
        "Missing required parameter: 'chunking_strategy.type'.",
    ),
    (
        '{"threshold": 0.5}',
        "chunking_strategy.type",
        "missing_required_parameter",
        "Missing required parameter: 'chunking_strategy.type'.",
    ),
    (
        FormParts(type="semantic_vad"),
        "chunking_strategy.type",
        "unsupported_value",
        "Invalid value: 'semantic_vad'. Supported values are: 'server_vad'.",
    ),
    (
        '{"type": "auto"}',
        "chunking_strategy.type",
        "unsupported_value",
        "Invalid value: 'auto'. Supported values are: 'server_vad'.",
    ),
    (
        '{"type": 1}',
        "chunking_strategy.type",
        "invalid_type",
        "Invalid type for 'chunking_strategy.type': expected a string, but got an integer instead.",
    ),
    (
        vad(padding_ms="300"),
        "chunking_strategy.padding_ms",
        "unknown_parameter",
        "Unknown parameter: 'chunking_strategy.padding_ms'.",
    ),
    (
        '{"type": "server_vad", "min_speech_ms": 250}',
        "chunking_strategy.min_speech_ms",
        "unknown_parameter",
        "Unknown parameter: 'chunking_strategy.min_speech_ms'.",
    ),
    (
        vad(threshold="loud"),
        "chunking_strategy.threshold",
        "invalid_type",
        "Invalid type for 'chunking_strategy.threshold': expected a decimal, but got a string "
        "instead.",
    ),
    (
        vad(threshold="nan"),
        "chunking_strategy.threshold",
        "invalid_type",
        "Invalid type for 'chunking_strategy.threshold': expected a decimal, but got a string "
        "instead.",
    ),
    (
        '{"type": "server_vad", "threshold": "0.5"}',
        "chunking_strategy.threshold",
        "invalid_type",
        "Invalid type for 'chunking_strategy.threshold': expected a decimal, but got a string "
        "instead.",
    ),
    (
        '{"type": "server_vad", "threshold": true}',
        "chunking_strategy.threshold",
        "invalid_type",
        "Invalid type for 'chunking_strategy.threshold': expected a decimal, but got a boolean "
        "instead.",
    ),
    (
        '{"type": "server_vad", "threshold": null}',
        "chunking_strategy.threshold",
        "invalid_type",
        "Invalid type for 'chunking_strategy.threshold': expected a decimal, but got null instead.",
    ),
    (
        vad(threshold="1.5"),
        "chunking_strategy.threshold",
        "decimal_above_max_value",
        "Invalid 'chunking_strategy.threshold': decimal above maximum value. Expected a value "
        "<= 1, but got 1.5 instead.",
    ),
    (
        '{"type": "server_vad", "threshold": 2}',
        "chunking_strategy.threshold",
        "decimal_above_max_value",
        "Invalid 'chunking_strategy.threshold': decimal above maximum value. Expected a value "
        "<= 1, but got 2 instead.",
    ),
    (
        vad(threshold="-0.1"),
        "chunking_strategy.threshold",
        "decimal_below_min_value",
        "Invalid 'chunking_strategy.threshold': decimal below minimum value. Expected a value "
        ">= 0, but got -0.1 instead.",
    ),
    (
        vad(prefix_padding_ms="lots"),
        "chunking_strategy.prefix_padding_ms",
        "invalid_type",
        "Invalid type for 'chunking_strategy.prefix_padding_ms': expected an integer, but got a "
        "string instead.",
    ),
    (
        vad(silence_duration_ms="200.5"),
        "chunking_strategy.silence_duration_ms",
        "invalid_type",
        "Invalid type for 'chunking_strategy.silence_duration_ms': expected an integer, but got "
        "a decimal instead.",
    ),
    (
        '{"type": "server_vad", "silence_duration_ms": 0.5}',
        "chunking_strategy.silence_duration_ms",
        "invalid_type",
        "Invalid type for 'chunking_strategy.silence_duration_ms': expected an integer, but got "
        "a decimal instead.",
    ),
    (
        '{"type": "server_vad", "prefix_padding_ms": "300"}',
        "chunking_strategy.prefix_padding_ms",
        "invalid_type",
        "Invalid type for 'chunking_strategy.prefix_padding_ms': expected an integer, but got a "
        "string instead.",
    ),
    (
        vad(prefix_padding_ms="-1"),
        "chunking_strategy.prefix_padding_ms",
        "integer_below_min_value",
        "Invalid 'chunking_strategy.prefix_padding_ms': integer below minimum value. Expected a "
        "value >= 0, but got -1 instead.",
    ),
    (
        '{"type": "server_vad", "silence_duration_ms": -200}',
        "chunking_strategy.silence_duration_ms",
        "integer_below_min_value",
        "Invalid 'chunking_strategy.silence_duration_ms': integer below minimum value. Expected "
        "a value >= 0, but got -200 instead.",
    ),
    (
        vad(silence_duration_ms="60001"),
        "chunking_strategy.silence_duration_ms",
        "integer_above_max_value",
        "Invalid 'chunking_strategy.silence_duration_ms': integer above maximum value. Expected "
        "a value <= 60000, but got 60001 instead.",
    ),
    (
        7,
        "chunking_strategy",
        "invalid_type",
        "Invalid type for 'chunking_strategy': expected one of a string or an object, but got an "
        "integer instead.",
    ),
]
