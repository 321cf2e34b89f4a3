"""Sign-in settings (django-axes), apart from base.py to keep each settings module readable."""

from datetime import timedelta

from .environment import env

# --- Sign-in ---------------------------------------------------------------------------------
# Password guessing is throttled by django-axes on every login that goes through Django's
# authenticate() (the dashboard's and the admin's): its backend comes first and refuses a
# locked-out user or address before any password is checked. Requiring a second factor for
# staff later (django-otp / django-two-factor-auth) only swaps the login views; it keeps these
# backends, so the throttle stays in front of it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed attempts before a lock, counted per username and client address together, and
# separately per client address (for any username). Never per username alone: then anyone could
# keep any user, the operator included, out from every address by guessing ten times.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
# A lock ends by itself this long after the failure that set it, attempts during the lock do not
# extend it (so nobody can lock a user out for good): at most LOGIN_FAILURE_LIMIT guesses per
# period. `manage.py axes_reset_username NAME` ends a lock sooner.
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
# The locked-out page (429 with Retry-After), for both logins.
AXES_LOCKOUT_CALLABLE = "accounts.login_throttle.locked_out"
# The client's address behind TRUSTED_PROXY_COUNT reverse proxies (X-Forwarded-For), so that
# every user behind the proxy does not share the proxy's one address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "accounts.login_throttle.client_address"
