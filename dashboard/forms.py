"""The dashboard's forms: a new API key, and the transcript filters (read from the query string)."""

from django import forms

from transcriptions.models import Job

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
        """Keyword arguments for transcriptions.selectors.job_search; an invalid field is ignored."""
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
