"""Settings for every environment, read strictly from the environment.

The defaults give the embedded setup (SQLite, django-q2's ORM broker, local media and model
cache under ./var) so that `make run` needs no other service. Production sets DATABASE_URL,
REDIS_URL and the rest; every variable is listed in platform/env.example.

Django's own settings are here; the rest by topic, imported in this order: the database and
cache (databases.py), sign-in (signin.py), the API (api.py), the speech models (speech.py), the
workers (workers.py).
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .environment import BASE_DIR, VAR_DIR, env, env_bool

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG and env_bool("DJANGO_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")
    # The embedded/demo setup: a fixed development key. Production sets DJANGO_SECRET_KEY
    # (and DJANGO_REQUIRE_SECRET_KEY=true so that forgetting it fails loudly).
    SECRET_KEY = "insecure-development-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
# API keys are hashed with this pepper, kept apart from SECRET_KEY so rotating the session
# signing key does not invalidate every customer's API key.
API_KEY_PEPPER = env.str("API_KEY_PEPPER", default=SECRET_KEY)

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files, no CDN
    "django_q",
    "axes",  # login throttling (dashboard and admin), see "Sign-in" below
    # One app per audience; imports run one way (docs/architecture/layout.md; `make lint`
    # checks it):
    # ops <- accounts <- billing <- transcriptions <- live <- api / dashboard.
    "ops",
    "accounts",
    "billing",
    "transcriptions",
    "live",
    "api",
    "dashboard",
]

MIDDLEWARE = [
    # Outermost: a streamed body, as the others left it, served part by part under ASGI.
    "ops.streams.AsgiStreamingMiddleware",
    "ops.middleware.RequestLogMiddleware",
    "api.middleware.ApiRequestMiddleware",
    # One usage row per /v1 request (refused ones too) and the x-ratelimit-* headers.
    "api.middleware.UsageLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "ops.static_files.StaticFilesMiddleware",
    # Some of Django's own are fitted to the asynchronous chain (ops/django_middleware.py).
    "ops.django_middleware.SessionMiddleware",
    "ops.django_middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "ops.django_middleware.AuthenticationMiddleware",
    "ops.django_middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a locked-out sign-in into the locked-out page (last, as django-axes asks).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
# What gunicorn serves (platform/gunicorn.conf.py): HTTP to Django, /v1/realtime websockets to
# the realtime consumer (config/asgi.py).
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

from .databases import *  # noqa: E402, F403

# --- Auth, i18n, static, media ----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
from .signin import *  # noqa: E402, F403

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Invitations to the dashboard (a set-password link) go out by email when an address is given;
# by default they are written to the server's console (stdout), where nothing is sent.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="whisper-platform@localhost")
# A new API key created in the admin is shown once in a message: keep messages server-side,
# never in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Web and workers on several machines must share the uploaded audio: a shared MEDIA_ROOT
# (NFS), or S3 through django-storages (`pip install django-storages[s3]`).
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="filesystem")
if MEDIA_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "default_acl": "private",
            "querystring_auth": True,
        },
    }
elif MEDIA_STORAGE != "filesystem":
    raise ImproperlyConfigured(f"MEDIA_STORAGE={MEDIA_STORAGE!r}: use filesystem or s3")

# Uploads: anything over 2.5 MB spools to a temporary file, never held whole in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_TEMP_DIR = None

from .api import *  # noqa: E402, F403
from .speech import *  # noqa: E402, F403
from .workers import *  # noqa: E402, F403

# A client waits for its job no longer than the job may run (a synchronous request's 504, a
# realtime turn's failure), unless the operator set the wait: a job that never starts (every
# worker wedged) then answers within the job timeout too.
if "SYNC_WAIT_TIMEOUT" not in env.ENVIRON:
    SYNC_WAIT_TIMEOUT = min(SYNC_WAIT_TIMEOUT, JOB_TIMEOUT)  # noqa: F405

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "json": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django_q": {"level": env.str("Q_LOG_LEVEL", default="WARNING")},
        # Lockouts are warnings; every failed attempt would be an info line.
        "axes": {"level": env.str("AXES_LOG_LEVEL", default="WARNING")},
        # One JSON line per request (ops.middleware.RequestLogMiddleware).
        "platform.requests": {
            "handlers": ["json"],
            "level": env.str("REQUEST_LOG_LEVEL", default="INFO"),
            "propagate": False,
        },
    },
}
