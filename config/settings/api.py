"""The OpenAI-compatible API: DRF, the OpenAPI schema, upload and wait limits, realtime."""

from .environment import env, env_bool

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

# --- Live transcription (/v1/realtime: live/, api/realtime/) ------------------------------------
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
