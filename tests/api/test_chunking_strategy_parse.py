"""OpenAI's `chunking_strategy` field, the parse function: every form it arrives in ("auto", the
openai SDK's chunking_strategy[...] fields, a JSON object) normalized with OpenAI's defaults,
and every bad value refused with an exact OpenAI-shaped error, the nested field named with
dots."""

import pytest
from rest_framework import serializers

from api.errors import validation_error
from api.serializers.chunking import FormParts, chunking_strategy_parse
from tests.api.chunking_cases import AUTO, REFUSED, VAD_DEFAULTS

# --- The parse function -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, AUTO),
        ("", AUTO),
        ("auto", AUTO),
        (" auto ", AUTO),
        (FormParts(type="server_vad"), VAD_DEFAULTS),
        (
            FormParts(
                type="server_vad", prefix_padding_ms="100", silence_duration_ms="0", threshold="1"
            ),
            {**VAD_DEFAULTS, "prefix_padding_ms": 100, "silence_duration_ms": 0, "threshold": 1.0},
        ),
        (FormParts(type="server_vad", threshold="0"), {**VAD_DEFAULTS, "threshold": 0.0}),
        (
            FormParts(type="server_vad", silence_duration_ms="60000"),
            {
                **VAD_DEFAULTS,
                "silence_duration_ms": 60000,
            },
        ),
        ('{"type": "server_vad"}', VAD_DEFAULTS),
        ('{"type": "server_vad", "threshold": 0.6}', {**VAD_DEFAULTS, "threshold": 0.6}),
        (
            ' {"type": "server_vad", "prefix_padding_ms": 500, "silence_duration_ms": 800,'
            ' "threshold": 1} ',
            {**VAD_DEFAULTS, "prefix_padding_ms": 500, "silence_duration_ms": 800, "threshold": 1},
        ),
        ('{"type": "server_vad", "prefix_padding_ms": 300.0}', VAD_DEFAULTS),
        ({"type": "server_vad", "threshold": 0.25}, {**VAD_DEFAULTS, "threshold": 0.25}),
    ],
)
def test_parse_normalizes_every_form(value, expected):
    parsed = chunking_strategy_parse(value)
    assert parsed == expected
    if parsed["type"] == "server_vad":
        assert type(parsed["prefix_padding_ms"]) is int
        assert type(parsed["silence_duration_ms"]) is int
        assert type(parsed["threshold"]) is float


@pytest.mark.parametrize(("value", "param", "code", "message"), REFUSED)
def test_parse_refuses_with_openai_messages(value, param, code, message):
    with pytest.raises(serializers.ValidationError) as raised:
        chunking_strategy_parse(value)
    error = validation_error({"chunking_strategy": raised.value.detail})
    assert (error.param, error.code, error.message) == (param, code, message)
