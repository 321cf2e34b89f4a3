"""Swagger UI's "Try it out" fills the form from the schema's examples: they must make a valid
request (not "string" for `model`, `language` and `prompt`, no item in the arrays)."""

import pytest

from tests.audio import JFK, JFK_TEXT, words

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]

FORMS = {
    "/v1/audio/transcriptions": "TranscriptionRequest",
    "/v1/audio/translations": "TranslationRequest",
    "/v1/audio/jobs": "JobRequest",
}


@pytest.fixture
def schema(client) -> dict:
    return client.get("/api/schema/", {"format": "json"}).json()


def try_out_form(schema: dict, path: str) -> dict:
    """What Swagger UI sends for a try-out left as filled (seen in chromium, its curl line):
    every field, with its example (or default); a field without one, and a list left empty,
    as one empty part."""
    body = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[1]
    assert ref == FORMS[path]
    form = {}
    for name, prop in schema["components"]["schemas"][ref]["properties"].items():
        if name == "file":
            continue
        value = prop.get("example", prop.get("default"))
        assert value != "string" and value != ["string"], (path, name)
        form[name] = "" if value in (None, []) else value
    return form


def test_the_examples_are_whisper_1_and_english(schema):
    for component in FORMS.values():
        properties = schema["components"]["schemas"][component]["properties"]
        assert properties["model"]["example"] == "whisper-1"
        assert properties["prompt"]["example"] == ""
        for name, prop in properties.items():
            if prop.get("type") == "array":
                assert prop["example"] == [], (component, name)
    assert (
        schema["components"]["schemas"]["TranscriptionRequest"]["properties"]["language"]["example"]
        == "en"
    )


@pytest.mark.inference
@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/audio/translations"])
def test_a_try_out_with_the_examples_works(schema, api_a, path):
    form = try_out_form(schema, path)
    assert form["model"] == "whisper-1"
    with JFK.open("rb") as fh:
        response = api_a.client.post(path, {**form, "file": fh}, format="multipart")
    assert response.status_code == 200, response.content[:300]
    assert words(response.json()["text"]) == words(JFK_TEXT)


def test_a_job_try_out_with_the_examples_is_accepted(schema, api_a):
    form = try_out_form(schema, "/v1/audio/jobs")
    with JFK.open("rb") as fh:
        response = api_a.client.post("/v1/audio/jobs", {**form, "file": fh}, format="multipart")
    assert response.status_code == 202, response.content[:300]


def test_one_empty_part_of_a_list_is_nothing_chosen_but_a_blank_among_values_is_refused(api_a):
    with JFK.open("rb") as fh:
        response = api_a.client.post(
            "/v1/audio/transcriptions",
            {"file": fh, "model": "tiny.en", "timestamp_granularities[]": "", "include[]": ""},
            format="multipart",
        )
    assert response.status_code == 200, response.content[:300]
    with JFK.open("rb") as fh:
        response = api_a.client.post(
            "/v1/audio/transcriptions",
            {
                "file": fh,
                "model": "tiny.en",
                "response_format": "verbose_json",
                "timestamp_granularities[]": ["word", ""],
            },
            format="multipart",
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"].startswith("timestamp_granularities")
