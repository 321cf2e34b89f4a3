"""Forms of the pages that manage an organization: key limits, members, the request log's
filters. (The key creation and transcript filters are in forms.py.)"""

from datetime import UTC, datetime, time

from django import forms

from accounts.models import Membership

MAX_KEY_RPM = 1_000_000


class ApiKeyLimitsForm(forms.Form):
    requests_per_minute = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_KEY_RPM,
        label="Requests per minute",
        help_text="Empty: only the organization's limit applies.",
        widget=forms.NumberInput(attrs={"placeholder": "no own limit"}),
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        help_text="Empty: never. The key stops working at 00:00 UTC that day.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return datetime.combine(day, time.min, tzinfo=UTC) if day else None


class MemberInviteForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]+$",
        max_length=150,
        help_text="Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    email = forms.EmailField(
        required=False, help_text="The set-password link is also sent there, when given."
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class RequestLogFilterForm(forms.Form):
    key = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Key")
    endpoint = forms.ChoiceField(required=False, label="Endpoint")
    status = forms.ChoiceField(required=False, label="Status")
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, keys, endpoints: list[str], statuses: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [
            ("", "Any key"),
            *((k.pk, f"{k.prefix}… {k.name}".strip()) for k in keys),
        ]
        self.fields["endpoint"].choices = [("", "Any endpoint"), *((e, e) for e in endpoints)]
        self.fields["status"].choices = [
            ("", "Any status"),
            ("ok", "Successful"),
            ("error", "Refused or failed"),
            *((str(code), str(code)) for code in statuses),
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            raise forms.ValidationError("The end date is before the start date.")
        return data
