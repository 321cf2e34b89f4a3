"""The SRT and WebVTT writers and the billing rounding of `usage`."""

import pytest

from transcriptions.openai import formats

SEGMENTS = [
    {"start": 0.0, "end": 2.5, "text": " Hello there."},
    {"start": 2.5, "end": 3661.0456, "text": " A long one."},
]


@pytest.mark.parametrize(
    ("seconds", "srt", "vtt"),
    [
        (0, "00:00:00,000", "00:00:00.000"),
        (1.2345, "00:00:01,234", "00:00:01.234"),
        (59.9996, "00:01:00,000", "00:01:00.000"),
        (3661.5, "01:01:01,500", "01:01:01.500"),
        (-0.01, "00:00:00,000", "00:00:00.000"),
    ],
)
def test_timestamps(seconds, srt, vtt):
    assert formats.timestamp(seconds, separator=",") == srt
    assert formats.timestamp(seconds, separator=".") == vtt


def test_srt():
    assert formats.to_srt(SEGMENTS) == (
        "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"
        "2\n00:00:02,500 --> 01:01:01,046\nA long one.\n\n"
    )


def test_vtt():
    assert formats.to_vtt(SEGMENTS) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
        "00:00:02.500 --> 01:01:01.046\nA long one.\n\n"
    )


def test_empty_transcript():
    assert formats.to_srt([]) == ""
    assert formats.to_vtt([]) == "WEBVTT\n\n"


@pytest.mark.parametrize(("duration", "billed"), [(0, 0), (10.0, 10), (10.0004, 10), (10.2, 11)])
def test_usage_is_billed_per_started_second(duration, billed):
    assert formats.usage(duration) == {"type": "duration", "seconds": billed}
