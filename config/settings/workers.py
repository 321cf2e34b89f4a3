"""The workers (django-q2): inference and callback clusters, queue limits, heartbeats,
housekeeping, metrics."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured

from .databases import REDIS_URL
from .environment import env, env_bool

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
# How many of those one tenant's callbacks may hold at once: a receiver that never answers
# then holds up its own tenant's callbacks only (transcriptions/services/callbacks.py). Shared
# through the cache, so across machines with Redis, per process without it.
CALLBACK_TENANT_SLOTS = env.int("CALLBACK_TENANT_SLOTS", default=max(1, CALLBACK_WORKERS - 1))
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
