"""Multipart requests to /v1/audio in the API tests: a recording as an upload, posted with
tiny.en unless a test says otherwise."""

import io

from tests.audio import JFK


def upload(path=JFK, name=None) -> io.BytesIO:
    fh = io.BytesIO(path.read_bytes() if not isinstance(path, bytes) else path)
    fh.name = name or getattr(path, "name", "audio.wav")
    return fh


def post(api, path="/v1/audio/transcriptions", *, audio=JFK, name=None, **fields):
    data = {"file": upload(audio, name), "model": "tiny.en", **fields}
    return api.client.post(path, data, format="multipart")
