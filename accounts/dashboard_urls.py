"""Sign-in, sign-out, the organization switcher and API keys (namespace `account`)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import dashboard_views as views

app_name = "account"

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organization/switch/", views.tenant_switch, name="tenant-switch"),
    path("keys/", views.api_key_list_page, name="api-keys"),
    path("keys/<int:pk>/revoke/", views.api_key_revoke_page, name="api-key-revoke"),
]
