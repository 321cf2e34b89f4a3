"""The OpenAPI schema (drf-spectacular) and the docs pages the app serves itself."""

import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

COMPONENT_NAME = re.compile(r"^[a-zA-Z0-9.\-_]+$")  # OpenAPI 3.0, components object
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def api_routes(patterns=None, prefix: str = "") -> dict[str, set[str]]:
    """Every /v1 route of the URL conf as an OpenAPI path -> the methods its view answers."""
    routes: dict[str, set[str]] = {}
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes.update(api_routes(pattern.url_patterns, route))
        elif isinstance(pattern, URLPattern) and route.startswith("v1/"):
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
            view = getattr(pattern.callback, "cls", None)
            routes[path] = {m for m in HTTP_METHODS if view and hasattr(view, m)}
    return routes


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return response.json()


def test_the_schema_is_valid_openapi(schema):
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 JSON schema
    assert schema["openapi"].startswith("3.")
    for name in schema["components"]["schemas"]:
        assert COMPONENT_NAME.match(name), name


def test_every_endpoint_and_method_is_in_the_schema(schema):
    routes = api_routes()
    assert {"/v1/audio/transcriptions", "/v1/audio/translations", "/v1/models"} <= set(routes)
    for path, methods in routes.items():
        assert path in schema["paths"], path
        assert methods and methods == set(schema["paths"][path]) & HTTP_METHODS, path
    assert set(schema["paths"]) == set(routes)  # nothing else: no dashboard, no docs views


def test_generation_has_no_warnings_or_errors(tmp_path):
    # --fail-on-warn: an endpoint whose request or response could not be described fails here.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
    assert "/v1/audio/transcriptions:" in (tmp_path / "schema.yaml").read_text()


def test_transcription_operation_describes_the_wire_format(schema):
    operation = schema["paths"]["/v1/audio/transcriptions"]["post"]
    assert operation["security"] == [{"ApiKeyAuth": []}]
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["ApiKeyAuth"]["description"],
    }
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    request = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert request["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": request["properties"]["file"]["description"],
    }
    assert set(request["required"]) == {"file", "model"}
    assert {"language", "prompt", "response_format", "temperature", "stream"} <= set(
        request["properties"]
    )
    assert "timestamp_granularities[]" in request["properties"]
    ok = operation["responses"]["200"]["content"]
    assert {"application/json", "text/plain", "text/vtt", "text/event-stream"} == set(ok)
    for status in ("400", "401", "404", "413", "429", "500", "503", "504"):
        error = operation["responses"][status]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/Error"}


def request_schema(schema: dict, path: str) -> dict:
    body = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
    return schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]


def test_chunking_strategy_is_auto_or_a_server_vad_object(schema):
    for path in ("/v1/audio/transcriptions", "/v1/audio/jobs"):
        field = request_schema(schema, path)["properties"]["chunking_strategy"]
        assert field["default"] == "auto"
        auto, vad = field["oneOf"]
        assert auto == {"type": "string", "enum": ["auto"]}
        assert vad["required"] == ["type"] and vad["additionalProperties"] is False
        defaults = {name: prop.get("default") for name, prop in vad["properties"].items()}
        assert defaults == {
            "type": None,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 200,
            "threshold": 0.5,
        }
        assert "chunking_strategy[type]" in field["description"]
    # OpenAI's translations have no chunking_strategy (ours ignore it).
    assert "chunking_strategy" not in request_schema(schema, "/v1/audio/translations")["properties"]


@pytest.mark.parametrize(
    ("url", "asset"),
    [
        ("/api/docs/", "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
    ],
)
def test_docs_pages_are_public_and_use_vendored_assets(client, url, asset):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert asset in html
    assert "/api/schema/" in html
    # Nothing is fetched from another host: every script and stylesheet is ours.
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert src.startswith("/"), src
