"""The dashboard's forms: a new API key, the transcript filters (read from the query string),
and a new transcription (an upload)."""

from django import forms
from django.conf import settings

from speech.languages import LANGUAGES, language_label
from transcriptions.models import Job
from transcriptions.openai import policy as openai_models

MAX_EXPIRY_DAYS = 3650


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What uses this key, e.g. “production” or “ci”.",
        widget=forms.TextInput(attrs={"placeholder": "production", "autocomplete": "off"}),
    )
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        label="Expires in (days)",
        help_text="Leave empty for a key that does not expire.",
    )


class TranscriptFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Job.Status.choices])
    # Free values shown as a select of what the tenant used: a value not among them (a model
    # never used) filters down to nothing rather than being ignored.
    model = forms.CharField(required=False, max_length=64, widget=forms.Select)
    language = forms.CharField(required=False, max_length=8, widget=forms.Select)
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, models: list[str], languages: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].widget.choices = [("", "Any model"), *((m, m) for m in models)]
        self.fields["language"].widget.choices = [("", "Any language"), *languages]

    def filters(self) -> dict:
        """Keyword arguments for transcriptions.selectors.job_search. An invalid field is left
        out of them; the page shows its error (`invalid_fields`), so that it is not ignored
        without a word."""
        self.is_valid()  # fills cleaned_data with the fields that are valid
        data = self.cleaned_data
        return {
            "search": (data.get("q") or "").strip(),
            "status": data.get("status") or "",
            "model": data.get("model") or "",
            "language": data.get("language") or "",
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }

    @property
    def is_filtered(self) -> bool:
        return any(self.filters().values())

    @property
    def invalid_fields(self) -> list[tuple[str, str]]:
        """(label, message) of each filter that was given but could not be applied."""
        return [
            (self.fields[name].label or name.title(), " ".join(errors))
            for name, errors in self.errors.items()
        ]


DEFAULT_MODEL = "whisper-1"
MSG_FORMAT_MODEL = "The model `{model}` answers only in {formats}."
MSG_TOO_BIG = "This file is {size} bytes; the limit of your plan is {limit} bytes."
# As the API refuses it (OpenAI: "not supported when using gpt-4o-transcribe-diarize").
MSG_PROMPT_MODEL = "The model `{model}` takes no prompt."


class TranscriptionCreateForm(forms.Form):
    """A new transcription from the dashboard: the fields of POST /v1/audio/jobs that a person
    chooses (the rest keep the API's defaults). Whether the model can do what is asked, the
    audio, the plan and the quota are checked by the submission service, as for the API."""

    file = forms.FileField(label="Audio file", help_text="flac, mp3, mp4, m4a, ogg, wav, webm…")
    model = forms.ChoiceField(initial=DEFAULT_MODEL)
    language = forms.ChoiceField(
        required=False,
        help_text="Leave on “Detect” to let the model find it.",
    )
    response_format = forms.ChoiceField(
        label="Response format",
        choices=[(f, f) for f in openai_models.WHISPER_RESPONSE_FORMATS],
        initial="json",
        help_text="What GET /v1/audio/jobs/{id} answers; the page shows every format.",
    )
    task = forms.ChoiceField(choices=Job.Task.choices, initial=Job.Task.TRANSCRIBE)
    prompt = forms.CharField(
        required=False,
        max_length=4000,
        help_text="Optional: vocabulary or style to follow.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. ComfyUI, Kubernetes"}),
    )

    def __init__(self, *args, max_file_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_file_bytes = max_file_bytes
        models = [*settings.WHISPER_MODEL_ALIASES, *settings.WHISPER_MODELS]
        self.fields["model"].choices = [(m, m) for m in models]
        self.fields["language"].choices = [
            ("", "Detect"),
            *sorted(((c, language_label(c)) for c in LANGUAGES), key=lambda c: c[1]),
        ]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.max_file_bytes:
            raise forms.ValidationError(
                MSG_TOO_BIG.format(size=upload.size, limit=self.max_file_bytes)
            )
        return upload

    def clean(self):
        data = super().clean()
        model, fmt = data.get("model"), data.get("response_format")
        if model and fmt and fmt not in openai_models.response_formats(model):
            formats = ", ".join(openai_models.response_formats(model))
            self.add_error("response_format", MSG_FORMAT_MODEL.format(model=model, formats=formats))
        if model and data.get("prompt") and openai_models.diarizes(model):
            self.add_error("prompt", MSG_PROMPT_MODEL.format(model=model))
        return data

    def audio_request_data(self) -> dict:
        """The validated fields, shaped as the API's serializers hand them to the service."""
        data = self.cleaned_data
        return {
            "model": data["model"],
            "language": data["language"] if data["task"] == Job.Task.TRANSCRIBE else "",
            "prompt": data["prompt"],
            "response_format": data["response_format"],
        }
