"""A transcription job: the request, its audio, its status and, when done, its transcript."""

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import ApiKey, Tenant
from speech import SAMPLE_RATE


def new_public_id() -> str:
    return f"job_{uuid.uuid4().hex}"


def audio_upload_to(job: "Job", filename: str) -> str:
    # The client's file name is kept in `audio_filename`; the stored name reveals nothing.
    return f"audio/{job.tenant_id}/{job.public_id}"


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Task(models.TextChoices):
        TRANSCRIBE = "transcribe", "Transcribe"
        TRANSLATE = "translate", "Translate"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    public_id = models.CharField(max_length=40, unique=True, editable=False, default=new_public_id)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="jobs")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    request_id = models.CharField(max_length=64, blank=True)

    task = models.CharField(max_length=16, choices=Task.choices, default=Task.TRANSCRIBE)
    requested_model = models.CharField(max_length=64)
    model = models.CharField(max_length=64, help_text="Registry id the request resolved to")
    language = models.CharField(max_length=8, blank=True)
    prompt = models.TextField(blank=True)
    response_format = models.CharField(max_length=16, default="json")
    temperature = models.FloatField(default=0.0)
    timestamp_granularities = models.JSONField(default=list, blank=True)
    stream = models.BooleanField(default=False)
    # Async jobs (POST /v1/audio/jobs) may ask to be called back when they end.
    callback_url = models.URLField(max_length=2000, blank=True)
    # Set by the async API: a synchronous request's client is waiting and needs no listing.
    is_async = models.BooleanField(default=False)
    # How the audio is cut into chunks (engine.chunking): {"type": "auto"} or OpenAI's
    # {"type": "server_vad", "prefix_padding_ms", "silence_duration_ms", "threshold"}.
    chunking_strategy = models.JSONField(default=dict, blank=True)
    # How many chunks the audio was cut into; 0 until its first chunk has been planned.
    chunk_count = models.PositiveIntegerField(default=0)
    # OpenAI's `include[]` (["logprobs"]: the decoder's log probability of each token),
    # `keywords[]` (words the decoder is primed with) and `languages[]` (the candidates
    # language detection chooses from, once per job).
    include = models.JSONField(default=list, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    # gpt-4o-transcribe-diarize's `known_speaker_names[]` with their references:
    # [{"name", "reference": the stored file, "embedding": [192 floats]}] (the speaker
    # encoder's, taken by the worker; the file is deleted with the job's audio).
    known_speakers = models.JSONField(default=list, blank=True)
    # Live turns (the Realtime API) only: the seconds of Whisper's encoder window
    # (engine.encoder_window; 0: its 30 s).
    encoder_window = models.PositiveSmallIntegerField(default=0)

    audio = models.FileField(upload_to=audio_upload_to, blank=True)
    audio_filename = models.CharField(max_length=255, blank=True)
    audio_bytes = models.BigIntegerField(default=0)
    audio_format = models.CharField(max_length=32, blank=True)
    probed_duration = models.FloatField(default=0.0, help_text="Seconds, probed at upload")
    # The quota this job holds (billing.services.quota_reserve) until it is settled, once.
    reserved_seconds = models.PositiveIntegerField(default=0)
    quota_period = models.DateField(null=True, blank=True)
    quota_settled_at = models.DateTimeField(null=True, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    # "host:pid" of the worker process running it: how a dead worker's job is found.
    worker = models.CharField(max_length=300, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)

    detected_language = models.CharField(max_length=8, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds, measured by the engine")
    text = models.TextField(blank=True)
    # {"language", "duration", "text", "segments": [...], "words": [...] | null}, and
    # "logprobs": [{"token", "bytes", "logprob"}, ...] when the job asked for them
    result = models.JSONField(null=True, blank=True)
    # Text of the segments decoded so far: what a streaming request sends as deltas; with
    # include=["logprobs"], the log probabilities of its tokens.
    partial_text = models.TextField(blank=True)
    partial_logprobs = models.JSONField(default=list, blank=True)
    # Seconds of audio the client has had the benefit of even if the job does not succeed: the
    # end of the last segment streamed to it, or what was decoded of a file whose real length
    # passed the measured one. A job that fails or is cancelled is billed this (billing.rounding).
    covered_seconds = models.FloatField(default=0.0)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="job_progress_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def processing_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Chunk(models.Model):
    """A piece of a job's audio, cut at a silence: the unit of work a worker takes.

    A job starts as one unplanned chunk covering the whole file; the worker that takes it
    decodes the file and, when it is longer than one chunk, cuts it (engine.chunking), stores
    the other pieces' samples and queues them, and transcribes the first. The job ends when
    all its chunks have (services.chunks)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="chunks")
    # Copies of the job's fields that the dispatcher orders by (transcriptions.dispatch),
    # so that choosing the next chunk reads this table alone.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    interactive = models.BooleanField(default=False, help_text="A client waits on it (sync)")
    arrived_at = models.DateTimeField(default=timezone.now)

    index = models.PositiveIntegerField(default=0)
    # False: the whole file, not cut yet (the job's first chunk before a worker planned it).
    planned = models.BooleanField(default=False)
    start_sample = models.BigIntegerField(default=0)
    end_sample = models.BigIntegerField(default=0)
    # Storage name of this piece's samples (16 kHz mono int16); empty for the first chunk,
    # which its planner transcribes from memory.
    samples_name = models.CharField(max_length=300, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Text of its segments decoded so far (and its tokens' log probabilities when the job
    # asked for them), and the end (in file time) of the last of them.
    partial_text = models.TextField(blank=True)
    partial_logprobs = models.JSONField(default=list, blank=True)
    covered_seconds = models.FloatField(default=0.0)
    # {"language", "segments": [...], "words": [...] | null[, "logprobs": [...]]}, times
    # already in file time.
    result = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        indexes = [
            models.Index(fields=["status", "tenant"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="unique_chunk_index"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.index}"

    @property
    def start_seconds(self) -> float:
        return self.start_sample / SAMPLE_RATE


class CallbackSecret(models.Model):
    """The per-tenant secret that signs job callbacks (HMAC-SHA256 over the body)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="callback_secret")
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"callback secret of {self.tenant}"


class CallbackAttempt(models.Model):
    """One delivery attempt of a job's callback: visible to the tenant and the operators."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="callback_attempts")
    number = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    delivered = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="unique_callback_attempt"),
        ]

    def __str__(self) -> str:
        return f"{self.job} callback #{self.number}"
