"""Issue 25: the production settings refused only the literal `change-me`. Imported with a
guessable, missing or reused secret, or with private callbacks allowed, they refuse to load."""

import importlib
import secrets
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.secrets import SECRET_VARIABLES, secret_problems

MODULE = "config.settings.production"


def valid_env() -> dict[str, str]:
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "API_KEY_PEPPER": secrets.token_urlsafe(40),
        "METRICS_TOKEN": secrets.token_urlsafe(24),
    }


def import_production(monkeypatch, **changes: str | None):
    """The production settings module imported afresh with a valid environment, changed by
    `changes` (None removes the variable)."""
    for name in [*SECRET_VARIABLES, "CALLBACK_ALLOW_PRIVATE"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**valid_env(), **changes}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    sys.modules.pop(MODULE, None)
    try:
        return importlib.import_module(MODULE)
    finally:
        sys.modules.pop(MODULE, None)


def test_a_valid_environment_loads(monkeypatch):
    env = valid_env()
    settings = import_production(monkeypatch, **env)
    assert settings.API_KEY_PEPPER == env["API_KEY_PEPPER"] != settings.SECRET_KEY
    assert settings.CALLBACK_ALLOW_PRIVATE is False


REFUSED = {
    "placeholder in capitals": (
        {"DJANGO_SECRET_KEY": "prod-CHANGE_ME-" + secrets.token_urlsafe(50)},
        "DJANGO_SECRET_KEY still set to the placeholder of platform/env.example",
    ),
    "placeholder in a database password": (
        {"DATABASE_URL": "postgres://whisper:ChangeMe@db:5432/whisper"},
        "DATABASE_URL still set to the placeholder",
    ),
    "one character repeated": (
        {"METRICS_TOKEN": "a" * 16},
        "METRICS_TOKEN has too few distinct characters to be random",
    ),
    "a short pattern repeated": (
        {"DJANGO_SECRET_KEY": "abc123" * 10},
        "DJANGO_SECRET_KEY has too few distinct characters to be random",
    ),
    "too short": ({"METRICS_TOKEN": "k3Y9-xQ"}, "METRICS_TOKEN must be set to 16+ random"),
    "no pepper (it fell back to the secret key)": (
        {"API_KEY_PEPPER": None},
        "API_KEY_PEPPER must be set to 32+ random characters",
    ),
    "the pepper reusing the secret key": (
        {"DJANGO_SECRET_KEY": "S" * 10 + "0123456789abcdefghijklmnopqrstuvwxyz" + "T" * 10},
        None,  # filled below: the same value as API_KEY_PEPPER
    ),
    "private callbacks": (
        {"CALLBACK_ALLOW_PRIVATE": "true"},
        "CALLBACK_ALLOW_PRIVATE=true lets any tenant's callbacks reach",
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_weak_or_reused_secrets_are_refused(monkeypatch, case):
    changes, message = REFUSED[case]
    if message is None:
        changes = {**changes, "API_KEY_PEPPER": changes["DJANGO_SECRET_KEY"]}
        message = "API_KEY_PEPPER is the same as DJANGO_SECRET_KEY: each secret must be its own"
    with pytest.raises(ImproperlyConfigured) as refused:
        import_production(monkeypatch, **changes)
    assert message in str(refused.value)


def test_the_metrics_token_may_not_be_the_database_password():
    token = secrets.token_urlsafe(24)
    env = {**valid_env(), "METRICS_TOKEN": token, "DATABASE_URL": f"postgres://u:{token}@db/x"}
    assert secret_problems(env) == [
        "METRICS_TOKEN is the same as DATABASE_URL: each secret must be its own"
    ]
