"""What the production settings refuse of their secrets (config/settings/production.py).

A secret that anyone can guess is no secret: the placeholder of platform/env.example in any
spelling (`CHANGE_ME`, `ChangeMe`), a value too short, one of few distinct characters
(`aaaaaaaaaaaaaaaa`), or one secret reused as another (the API key pepper falling back to the
session key makes one leak cost both). Pure functions of the environment, so tests call them.
"""

import re
from urllib.parse import urlsplit

# Every secret platform/env.example names -> the least length of its value (None: checked only
# when set; DATABASE_URL: its password).
SECRET_VARIABLES: dict[str, int | None] = {
    "DJANGO_SECRET_KEY": 50,
    "API_KEY_PEPPER": 32,
    "DATABASE_URL": None,
    "METRICS_TOKEN": 16,
    "AWS_SECRET_ACCESS_KEY": None,
}
# Looked for in the value lowercased and stripped to letters and digits.
PLACEHOLDERS = ("changeme", "replaceme", "placeholder", "insecure")
# A random value of 16+ characters has far more; a typed pattern has fewer.
MIN_DISTINCT_CHARACTERS = 8


def _placeholder(value: str) -> bool:
    folded = re.sub(r"[^a-z0-9]", "", value.lower())
    return any(mark in folded for mark in PLACEHOLDERS)


def _secret(name: str, environ: dict[str, str]) -> str:
    value = environ.get(name, "")
    if name == "DATABASE_URL":
        try:
            return urlsplit(value).password or ""
        except ValueError:
            return ""
    return value


def secret_problems(environ: dict[str, str]) -> list[str]:
    """Why the secrets of `environ` would not do in production, one sentence each."""
    placeholders = [name for name in SECRET_VARIABLES if _placeholder(environ.get(name, ""))]
    problems = []
    if placeholders:
        problems.append(
            f"{', '.join(placeholders)} still set to the placeholder of platform/env.example: "
            "set secrets of your own"
        )
    seen: dict[str, str] = {}
    for name, min_length in SECRET_VARIABLES.items():
        value = _secret(name, environ)
        if name in placeholders or (not value and min_length is None):
            continue
        if min_length is not None and len(value) < min_length:
            problems.append(f"{name} must be set to {min_length}+ random characters")
        elif len(set(value)) < MIN_DISTINCT_CHARACTERS:
            problems.append(f"{name} has too few distinct characters to be random")
        elif value in seen:
            problems.append(f"{name} is the same as {seen[value]}: each secret must be its own")
        seen.setdefault(value, name)
    return problems
