"""Sign-out that answers GET too, and the set-password page of an invitation."""

from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django.urls import reverse_lazy


class LogoutPageView(auth_views.LogoutView):
    """Django signs out by POST only (a GET link could sign anyone out from another site);
    a GET, from a bookmark or a typed URL, gets a page with the sign-out button instead of
    an empty 405."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "registration/logout.html")


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """An invited person sets their password from the one-time link (Django's reset token:
    it stops working once the password is set, and after PASSWORD_RESET_TIMEOUT)."""

    template_name = "registration/password_set.html"
    success_url = reverse_lazy("account:password-set-done")


class PasswordSetDoneView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_set_done.html"
