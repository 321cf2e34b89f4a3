"""Forms of the dashboard's account pages."""

from django import forms

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
