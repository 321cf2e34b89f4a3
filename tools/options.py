"""What `manage.py benchmark` is asked to do: its options, their parsing and their checks (all
made before anything is loaded or started)."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

import speech as engine

from .measure import BenchmarkError

SCENARIOS = ("short", "long", "fairness", "diarization", "realtime", "accuracy")
DEFAULT_CLIP = engine.WARM_UP_CLIP  # 11 s of real speech that ships with the project
DEFAULT_MODEL = "tiny.en"
# The long scenario's default: ten minutes of audio through a bare engine and three platforms
# takes minutes with tiny.en on 2 cores; base would take several times as long.
DEFAULT_LONG_MODEL = "tiny.en"
DEFAULT_LONG_WORKERS = (1, 2, 4)
# Fairness: tenant A's backlog of async jobs, tenant B's synchronous requests.
FAIRNESS_CLIP = DEFAULT_CLIP.parent / "multilingual.mp3"  # 60 s
FAIRNESS_MODEL_A = "whisper-1"
FAIRNESS_MODEL_B = "tiny.en"
# Accuracy: diarization is gpt-4o-transcribe-diarize's, an alias of base; whisper-1 is too.
DEFAULT_ACCURACY_MODEL = "whisper-1"

MSG_UNKNOWN_MODEL = "Unknown model {model!r}: use one of {models}."
MSG_NO_FILE = "No such audio file: {path}"
MSG_URL_NEEDS_KEY = "--url needs --key, an API key of that deployment."
MSG_BAD_COUNTS = "--runs, --concurrency and --rounds must be at least 1, --warmup at least 0."
MSG_BAD_SCENARIOS = "--scenarios: a comma-separated list of {choices}, not {value!r}."
MSG_BAD_WORKERS = "--long-workers: a comma-separated list of worker counts >= 1, not {value!r}."
MSG_BAD_LONG_COUNTS = "--long-runs, --fairness-jobs and --fairness-probes must be at least 1."
MSG_BAD_ACCURACY_RUNS = "--accuracy-runs must be at least 1."
MSG_UNKNOWN_CONVERSATIONS = "--conversations: a comma-separated list of {choices}, not {value!r}."
MSG_FAIRNESS_NEEDS_KEY_B = (
    "The fairness scenario against --url needs --key-b, an API key of a second tenant of that "
    "deployment (or leave it out: --scenarios short,long)."
)


def parse_scenarios(value: str) -> tuple[str, ...]:
    """`short,fairness` -> ("short", "fairness"): known names, each once, in the order they run
    (SCENARIOS'), whatever order they were given in."""
    names = {name.strip() for name in value.split(",") if name.strip()}
    if not names or names - set(SCENARIOS):
        raise BenchmarkError(MSG_BAD_SCENARIOS.format(choices=", ".join(SCENARIOS), value=value))
    return tuple(name for name in SCENARIOS if name in names)


def parse_workers(value: str) -> tuple[int, ...]:
    """`1,2,4` -> (1, 2, 4): worker counts, each once, in the order given."""
    try:
        counts = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise BenchmarkError(MSG_BAD_WORKERS.format(value=value))
    return tuple(dict.fromkeys(counts))


@dataclass(frozen=True)
class BenchmarkOptions:
    scenarios: tuple[str, ...] = SCENARIOS
    clip: Path = DEFAULT_CLIP
    model: str = DEFAULT_MODEL
    runs: int = 10
    concurrency: int = 8
    rounds: int = 3
    warmup: int = 2
    url: str | None = None
    key: str | None = None
    # None: as many as each worker uses (WHISPER_CPU_THREADS), so that only the platform
    # differs; 0: faster-whisper's own default (CTranslate2 takes min(4, cores)).
    bare_threads: int | None = None
    # Workers of the platform started here load only the benchmarked model, as the bare
    # process does; True: every model of WHISPER_PRELOAD_MODELS, as a default deployment.
    preload_all: bool = False
    # long: the built file through the bare engine (faster-whisper's default threads) and
    # through platforms of that many workers.
    long_model: str = DEFAULT_LONG_MODEL
    long_workers: tuple[int, ...] = DEFAULT_LONG_WORKERS
    long_runs: int = 1
    # fairness: tenant A's async jobs, tenant B's timed requests (idle, then behind A's jobs);
    # key_b: a second tenant's key of the deployment at `url`.
    fairness_jobs: int = 8
    fairness_probes: int = 5
    key_b: str | None = None
    # accuracy: the built conversations (all, or these names), each through the platform and
    # the bare engine `accuracy_runs` times; live: one realtime session per conversation.
    accuracy_model: str = DEFAULT_ACCURACY_MODEL
    accuracy_runs: int = 5
    accuracy_conversations: tuple[str, ...] = ()
    accuracy_live: bool = True


def resolve_model(model: str) -> str:
    model_id = engine.resolve_model_id(model)
    if model_id is None:
        models = ", ".join([*settings.WHISPER_MODEL_ALIASES, *settings.WHISPER_MODELS])
        raise BenchmarkError(MSG_UNKNOWN_MODEL.format(model=model, models=models))
    return model_id


def check(options: BenchmarkOptions) -> None:
    """Refuse unusable options before anything is loaded or started."""
    if not options.scenarios or set(options.scenarios) - set(SCENARIOS):
        raise BenchmarkError(
            MSG_BAD_SCENARIOS.format(
                choices=", ".join(SCENARIOS), value=",".join(options.scenarios)
            )
        )
    resolve_model(options.model)
    if "long" in options.scenarios:
        resolve_model(options.long_model)
    if not options.clip.is_file():
        raise BenchmarkError(MSG_NO_FILE.format(path=options.clip))
    if options.url and not options.key:
        raise BenchmarkError(MSG_URL_NEEDS_KEY)
    if min(options.runs, options.concurrency, options.rounds) < 1 or options.warmup < 0:
        raise BenchmarkError(MSG_BAD_COUNTS)
    if min(options.long_runs, options.fairness_jobs, options.fairness_probes) < 1:
        raise BenchmarkError(MSG_BAD_LONG_COUNTS)
    if not options.long_workers or min(options.long_workers) < 1:
        raise BenchmarkError(MSG_BAD_WORKERS.format(value=options.long_workers))
    if "fairness" in options.scenarios and options.url and not options.key_b:
        raise BenchmarkError(MSG_FAIRNESS_NEEDS_KEY_B)
    if "accuracy" in options.scenarios:
        _check_accuracy(options)


def _check_accuracy(options: BenchmarkOptions) -> None:
    from .conversations import load

    resolve_model(options.accuracy_model)
    if options.accuracy_runs < 1:
        raise BenchmarkError(MSG_BAD_ACCURACY_RUNS)
    names = [truth["name"] for _, truth in load()]
    unknown = set(options.accuracy_conversations) - set(names)
    if unknown or not names:
        raise BenchmarkError(
            MSG_UNKNOWN_CONVERSATIONS.format(
                choices=", ".join(names), value=",".join(options.accuracy_conversations)
            )
        )
