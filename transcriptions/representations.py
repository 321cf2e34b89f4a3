"""The JSON shape of an async job (GET /v1/audio/jobs/{id}, listings, callbacks)."""

import json
from typing import Any

from .engine.formats import render, usage
from .models import Job


def _unix(value) -> int | None:
    return int(value.timestamp()) if value else None


def job_result(job: Job) -> Any:
    """The transcript in the job's requested format: an object for json formats, else text."""
    if job.status != Job.Status.SUCCEEDED or job.result is None:
        return None
    body, _ = render(
        job.result,
        response_format=job.response_format,
        task=job.task,
        granularities=job.timestamp_granularities,
    )
    return json.loads(body) if job.response_format in ("json", "verbose_json") else body


def job_object(job: Job, *, include_result: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": job.public_id,
        "object": "audio.job",
        "task": job.task,
        "model": job.requested_model,
        "status": job.status,
        "progress": job.progress,
        "response_format": job.response_format,
        "language": job.language or None,
        "filename": job.audio_filename,
        "bytes": job.audio_bytes,
        "duration": job.duration if job.duration is not None else job.probed_duration,
        "attempts": job.attempts,
        "created_at": _unix(job.created_at),
        "started_at": _unix(job.started_at),
        "finished_at": _unix(job.finished_at),
        "error": (
            {"code": job.error_code, "message": job.error_message}
            if job.status in (Job.Status.FAILED, Job.Status.CANCELLED)
            else None
        ),
        "usage": usage(job.duration) if job.status == Job.Status.SUCCEEDED else None,
    }
    if include_result:
        data["result"] = job_result(job)
    if job.callback_url:
        data["callback"] = {
            "url": job.callback_url,
            "attempts": [
                {
                    "number": a.number,
                    "status_code": a.status_code,
                    "delivered": a.delivered,
                    "error": a.error or None,
                    "created_at": _unix(a.created_at),
                }
                for a in job.callback_attempts.all()
            ],
        }
    return data
