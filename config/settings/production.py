"""Production: the base settings plus HTTPS hardening; `manage.py check --deploy` is clean.

Everything else (DATABASE_URL, REDIS_URL, hosts, workers) still comes from the environment
(platform/env.example). It refuses to start with a missing secret, or with one still set to
the placeholder that platform/env.example shows.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import METRICS_TOKEN, env, env_bool

# Every secret platform/env.example names, and the mark its placeholder values carry: a
# deployment that copied the example (or started compose with it) without filling them in
# would run with keys that anyone who read the repository knows.
SECRET_VARIABLES = (
    "DJANGO_SECRET_KEY",
    "API_KEY_PEPPER",
    "DATABASE_URL",  # its password
    "METRICS_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
)
PLACEHOLDER_MARK = "change-me"


def placeholder_secrets(environ: dict[str, str]) -> list[str]:
    """The secret variables of `environ` still set to an example's placeholder."""
    return [name for name in SECRET_VARIABLES if PLACEHOLDER_MARK in environ.get(name, "").lower()]


_placeholders = placeholder_secrets(dict(os.environ))
if _placeholders:
    raise ImproperlyConfigured(
        f"{', '.join(_placeholders)} still set to the placeholder of platform/env.example: "
        "set secrets of your own"
    )

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set to 50+ random characters")
# /metrics tells who uses the platform how much: never open in production.
if len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be set to 16+ random characters")

# TLS ends at the proxy in front of gunicorn, which says so in X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# Health and metrics are probed over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
