"""Production: the base settings plus HTTPS hardening; `manage.py check --deploy` is clean.

Everything else (DATABASE_URL, REDIS_URL, hosts, workers) still comes from the environment
(platform/env.example). It refuses to start with a missing, weak or reused secret
(config/settings/secrets.py), or with callbacks allowed to reach private addresses.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env, env_bool
from .secrets import secret_problems

MSG_PRIVATE_CALLBACKS = (
    "CALLBACK_ALLOW_PRIVATE=true lets any tenant's callbacks reach this network's private "
    "addresses: development only"
)

# Read from the environment here, not taken from the base settings: they are what is checked.
_problems = secret_problems(dict(os.environ))
if env_bool("CALLBACK_ALLOW_PRIVATE", False):
    _problems.append(MSG_PRIVATE_CALLBACKS)
if _problems:
    raise ImproperlyConfigured("; ".join(_problems))

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
# Its own secret, never the session key (the base settings' development fallback).
API_KEY_PEPPER = env.str("API_KEY_PEPPER")
# /metrics tells who uses the platform how much: never open in production.
METRICS_TOKEN = env.str("METRICS_TOKEN")
CALLBACK_ALLOW_PRIVATE = False

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
