"""Liveness (/healthz: the process answers) and readiness (/readyz: it can do real work)."""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django_q.brokers import get_broker

from .workers import workers_alive


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check(fn) -> tuple[bool, str]:
    try:
        return fn()
    except Exception as exc:  # a readiness probe reports failures, it does not raise them
        return False, f"{type(exc).__name__}: {exc}"[:200]


def _database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return True, connection.vendor


def _broker() -> tuple[bool, str]:
    broker = get_broker()
    return bool(broker.ping()), type(broker).__name__


def _workers() -> tuple[bool, str]:
    ready = [w for w in workers_alive() if w.loaded_models]
    return bool(ready), f"{len(ready)} worker(s) with models loaded"


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {
        name: _check(fn)
        for name, fn in (("database", _database), ("broker", _broker), ("workers", _workers))
    }
    ready = all(ok for ok, _ in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)
