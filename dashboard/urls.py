"""The pages for people: sign-in, the organization switcher and API keys (namespace
`account`); transcripts, usage and billing, and the staff overview (namespace `dashboard`)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from .views import keys, overview, transcripts, usage
from .views.live import live_page

account_patterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organization/switch/", keys.tenant_switch, name="tenant-switch"),
    path("keys/", keys.api_key_list_page, name="api-keys"),
    path("keys/<int:pk>/revoke/", keys.api_key_revoke_page, name="api-key-revoke"),
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
    path("live/", live_page, name="live"),
]

urlpatterns = [
    path("", include((account_patterns, "account"))),
    path("", include((dashboard_patterns, "dashboard"))),
]
