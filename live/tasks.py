"""django-q2 entry points of live transcription: thin, ids in, a service call."""

from .services.preview_decoding import live_preview_run


def run_preview(preview_pk: int) -> str | None:
    """A live turn's interim text (services.preview_decoding): one decode, no chunk, not billed."""
    return live_preview_run(preview_pk)
