"""Dashboard fixtures: signed-in browsers (Django test clients) for the personas, and jobs
made by the real API with real inference."""

import pytest
from django.test import Client

from tests.audio import JFK
from transcriptions.models import Job


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    return signed_in(alice)


@pytest.fixture
def bob_client(bob) -> Client:
    return signed_in(bob)


@pytest.fixture
def charlie_client(charlie) -> Client:
    return signed_in(charlie)


@pytest.fixture
def staff_client(db, tenant_a, tenant_b) -> Client:
    from tests.factories import UserFactory

    operator = UserFactory(username="olivia", is_staff=True, is_superuser=True)
    return signed_in(operator)


def transcribe(api, *, audio=JFK, model: str = "tiny.en", **fields) -> Job:
    """One request through /v1/audio/transcriptions (the task runs inline); its job row."""
    with open(audio, "rb") as fh:
        response = api.client.post(
            "/v1/audio/transcriptions", {"file": fh, "model": model, **fields}, format="multipart"
        )
    assert response.status_code == 200, response.content[:500]
    return Job.objects.get(request_id=response["x-request-id"])


@pytest.fixture
def jfk_job(api_a) -> Job:
    """A finished transcript of tenant A, made through the API."""
    return transcribe(api_a)


def clone(job: Job, **changes) -> Job:
    """Another row with the same real result (for lists longer than a few transcriptions)."""
    fields = {
        f.attname: getattr(job, f.attname)
        for f in Job._meta.concrete_fields
        if f.attname not in ("id", "public_id")
    }
    fields.update(changes)
    return Job.objects.create(**fields)
