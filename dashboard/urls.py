"""The pages for people: sign-in, the organization switcher and API keys (namespace
`account`); transcripts, usage and billing, and the staff overview (namespace `dashboard`)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from .views import (
    account,
    keys,
    live,
    members,
    overview,
    requests_log,
    transcript_actions,
    transcripts,
    upload,
    usage,
)

account_patterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", account.LogoutPageView.as_view(), name="logout"),
    path("organization/switch/", keys.tenant_switch, name="tenant-switch"),
    path("keys/", keys.api_key_list_page, name="api-keys"),
    path("keys/<int:pk>/revoke/", keys.api_key_revoke_page, name="api-key-revoke"),
    path("keys/<int:pk>/limits/", keys.api_key_limits_page, name="api-key-limits"),
    path("members/", members.member_list_page, name="members"),
    path("members/<int:pk>/role/", members.member_role_page, name="member-role"),
    path("members/<int:pk>/remove/", members.member_remove_page, name="member-remove"),
    path(
        "accounts/password/set/<uidb64>/<token>/",
        account.PasswordSetView.as_view(),
        name="password-set",
    ),
    path(
        "accounts/password/set/done/",
        account.PasswordSetDoneView.as_view(),
        name="password-set-done",
    ),
    path("requests/", requests_log.request_log_page, name="request-log"),
]

dashboard_patterns = [
    path("", transcripts.home, name="home"),
    path("transcripts/", transcripts.transcript_list_page, name="transcripts"),
    path("transcripts/<str:public_id>/", transcripts.transcript_detail_page, name="transcript"),
    path(
        "transcripts/<str:public_id>/download.<str:fmt>",
        transcripts.transcript_download,
        name="transcript-download",
    ),
    path("usage/", usage.usage_page, name="usage"),
    path("usage/billing.csv", usage.billing_csv_download, name="billing-csv"),
    path("overview/", overview.overview_page, name="overview"),
    path("usage/usage.csv", usage.usage_csv_download, name="usage-csv"),
    # Not under transcripts/: transcripts/<public_id>/ comes first and would take "new".
    path("transcribe/", upload.transcript_new_page, name="transcript-new"),
    path(
        "transcripts/progress.json",
        transcript_actions.transcript_progress,
        name="transcript-progress",
    ),
    path(
        "transcripts/<str:public_id>/cancel/",
        transcript_actions.transcript_cancel,
        name="transcript-cancel",
    ),
    path(
        "transcripts/<str:public_id>/delete/",
        transcript_actions.transcript_delete,
        name="transcript-delete",
    ),
    path(
        "transcripts/<str:public_id>/audio",
        transcript_actions.transcript_audio,
        name="transcript-audio",
    ),
    path("live/", live.live_page, name="live"),
]

urlpatterns = [
    path("", include((account_patterns, "account"))),
    path("", include((dashboard_patterns, "dashboard"))),
]
