"""The job services, by sub-domain: submission (checks, storage, queueing), lifecycle (the
one final transition), chunks (turns, fair claims, cutting, stored samples), running (the
worker side), progress (what a running job has done, for streams), speakers (diarized
transcripts), recovery (dead workers, retries, the schedules), retention, callbacks, waiting,
usage (what a job costs). Live transcription is the `live` app's, above this one."""

from .callback_targets import callback_url_resolve
from .callbacks import callback_deliver, callback_secret_get, callback_secret_rotate
from .lifecycle import (
    MSG_CANCELLED,
    MSG_ENGINE_FAILED,
    MSG_WAIT_TIMEOUT,
    job_cancel,
    job_delete,
    job_enqueue,
    job_fail,
    job_outcome_error,
    job_succeed,
)
from .progress import text_not_sent
from .recovery import (
    MAX_JOB_ATTEMPTS,
    SCHEDULES,
    chunks_recover,
    job_retry,
    jobs_recover,
    jobs_unqueued_enqueue,
    recover_orphaned_jobs,
    schedules_install,
    turns_resupply,
)
from .retention import purge_expired
from .running import MSG_TIMED_OUT, chunk_run_next, turn_run
from .submission import (
    DASHBOARD_ENDPOINT,
    MSG_QUEUE_FULL,
    AudioRequest,
    audio_request_build,
    job_create,
    job_submit,
    job_submit_recorded,
)
from .usage import job_usage, usage_records_settle_pending
from .waiting import job_notify, job_wait, job_wait_async

__all__ = [
    "DASHBOARD_ENDPOINT",
    "MAX_JOB_ATTEMPTS",
    "MSG_CANCELLED",
    "MSG_ENGINE_FAILED",
    "MSG_QUEUE_FULL",
    "MSG_TIMED_OUT",
    "MSG_WAIT_TIMEOUT",
    "SCHEDULES",
    "AudioRequest",
    "audio_request_build",
    "callback_deliver",
    "callback_secret_get",
    "callback_secret_rotate",
    "callback_url_resolve",
    "chunk_run_next",
    "chunks_recover",
    "job_cancel",
    "job_create",
    "job_delete",
    "job_enqueue",
    "job_fail",
    "job_notify",
    "job_outcome_error",
    "job_retry",
    "job_submit",
    "job_submit_recorded",
    "job_succeed",
    "job_usage",
    "job_wait",
    "job_wait_async",
    "jobs_recover",
    "jobs_unqueued_enqueue",
    "purge_expired",
    "recover_orphaned_jobs",
    "schedules_install",
    "text_not_sent",
    "turn_run",
    "turns_resupply",
    "usage_records_settle_pending",
]
