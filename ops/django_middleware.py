"""Django's own middleware, fitted to the web process's asynchronous chain.

Under ASGI Django calls a synchronous middleware's hooks in a thread (`sync_to_async`), two
hops to a thread and back for each middleware. After a synchronous transcription's wait, the
first such hop also starts a new thread for the request (its own was given back while it
waited, ops.threads). Together they cost each answer time. So:

- the middleware only the site needs (sessions, sign-in, messages: the dashboard, the admin)
  is passed by for the /v1 API, whose requests carry a key, no session or cookie; elsewhere it
  is Django's own;
- CommonMiddleware, whose hooks only look at the request and the response (redirects,
  Content-Length) with no database or file behind them, runs them in the event loop.

They are subclasses, so Django's checks (admin.E408-E410) still recognise them. The security,
CSRF and X-Frame-Options middleware stay Django's own, by their dotted paths: `check --deploy`
looks for those names, and skips its HSTS, SSL and cookie checks without them.
"""

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import common

API_PREFIX = "/v1/"


class _SiteOnly:
    """Mixed into a MiddlewareMixin subclass: the next layer's answer, untouched, for /v1."""

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            # A coroutine in an asynchronous chain (awaited by the layer above), else the
            # response itself.
            return self.get_response(request)
        return super().__call__(request)


class _InLoop:
    """Mixed into a MiddlewareMixin subclass whose hooks do no I/O: MiddlewareMixin.__acall__
    without the hops to a thread."""

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class CommonMiddleware(_InLoop, common.CommonMiddleware):
    pass


class SessionMiddleware(_SiteOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(_SiteOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(_SiteOnly, messages.MessageMiddleware):
    pass
