"""Shared fixtures. Personas (healthchecks' hc/test.py): alice owns tenant A, bob is a member
of A, charlie belongs to tenant B and must be refused everything of A."""

import contextlib
import fcntl
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership, Tenant
from accounts.services import api_key_create
from tests.factories import MembershipFactory, TenantFactory, UserFactory


@dataclass
class KeyedClient:
    client: APIClient
    tenant: Tenant
    api_key: ApiKey
    key: str


@pytest.fixture
def tenant_a(db) -> Tenant:
    return TenantFactory(slug="acme", name="Acme")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return TenantFactory(slug="globex", name="Globex")


@pytest.fixture
def alice(tenant_a):
    user = UserFactory(username="alice")
    MembershipFactory(tenant=tenant_a, user=user, role=Membership.Role.OWNER)
    return user


@pytest.fixture
def bob(tenant_a):
    user = UserFactory(username="bob")
    MembershipFactory(tenant=tenant_a, user=user, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def charlie(tenant_b):
    user = UserFactory(username="charlie")
    MembershipFactory(tenant=tenant_b, user=user, role=Membership.Role.OWNER)
    return user


def pytest_collection_modifyitems(config, items):
    """Modules in the order the test processes should take them (`make test` passes xdist's
    --no-loadscope-reorder, which keeps this order; xdist's own puts the modules of most tests
    first): the longest first, so that the run does not end on one process still busy with a
    long module while the others are done. The e2e modules first (a platform each, a minute and
    more), then those of real inference, then the rest; a module with a `solo` test last, when
    the other processes are down to short tests that its exclusive call waits little for and
    no platform is starting beside it. Before all of them, the modules of PostgreSQL's races
    (`postgres`: 20 threads or processes, a connection each), while no e2e platform holds
    connections yet: a platform lives for the session, and two of them beside a race went
    over PostgreSQL's 100 ("too many clients already"). Stable: within a rank, the
    collection's order."""

    def rank(module_items) -> int:
        marks = {mark.name for item in module_items for mark in item.iter_markers()}
        if "postgres" in marks:
            return -1
        if "solo" in marks:
            return 3
        if "e2e" in marks:
            return 0
        return 1 if "inference" in marks else 2

    modules: dict = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)
    ranked = sorted(modules.values(), key=rank)
    items[:] = [item for module_items in ranked for item in module_items]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Under pytest-xdist (`make test`), a test marked `solo` runs with no other test running:
    the others hold a shared lock for each test, a solo test takes it exclusively for its call
    (pytest_runtest_call). A turnstile lock, taken first by every test, keeps the others from
    starving a solo test that waits. xdist has no such mode of its own: its groups keep tests
    together, not others away."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        yield
        return
    locks = Path(tempfile.gettempdir()) / f"whisper-tests-{run}"
    with contextlib.ExitStack() as held:
        turnstile = held.enter_context(open(f"{locks}.turnstile", "a"))
        machine = held.enter_context(open(f"{locks}.machine", "a"))
        item.stash[_LOCKS] = (turnstile, machine)
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        fcntl.flock(machine, fcntl.LOCK_SH)
        fcntl.flock(turnstile, fcntl.LOCK_UN)
        yield


_LOCKS = pytest.StashKey[tuple]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A solo test's call alone on the machine; its setup (a platform started for the e2e
    module: 70 s on a loaded 2-core machine) and teardown share it with the other processes'
    tests, which lost that whole time to the live page's platform while its setup was held
    exclusively too. Its shared lock is let go before the turnstile is waited for: two tests
    each holding one while waiting for the other's would wait forever."""
    locks = item.stash.get(_LOCKS, None)
    if locks is None or item.get_closest_marker("solo") is None:
        yield
        return
    turnstile, machine = locks
    fcntl.flock(machine, fcntl.LOCK_UN)
    fcntl.flock(turnstile, fcntl.LOCK_EX)
    fcntl.flock(machine, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(machine, fcntl.LOCK_SH)
        fcntl.flock(turnstile, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, and on PostgreSQL the run's other connections to the test database
    ended before it is dropped: the threads of the request pool (ops.threads) keep theirs open,
    and the DROP refused with "being accessed by other users" left a database per run."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session", autouse=True)
def _decode_seam():
    """engine.transcribe goes through the fake engine's switch for the whole run (the real
    decode while it is off): see tests/fake_engine.py."""
    from tests import fake_engine as fake

    fake.install()
    yield
    fake.uninstall()


@pytest.fixture
def fake_engine():
    """The one fake engine (tests/fake_engine.py): only the decode call is replaced, the job's
    lifecycle (probe, limits, reservation, queue, chunks, usage rows) stays real. For tests
    whose subject is not the engine; their text assertions are about `fake_text()`. A switch,
    not a patch: a test's own patches of the engine, and their `monkeypatch.undo()`, work on
    top of it, and it is off again after the test whatever they did."""
    from tests import fake_engine as fake

    fake.switch.on = True
    try:
        yield fake
    finally:
        fake.switch.on = False


@pytest.fixture
def shared_decode():
    """Real decodes, diarizations and speaker embeddings run once per test session for each
    exact input (tests/fake_engine.py `_memoized`): a later identical call gets a deep copy of
    the real result. For tests whose subject is what the platform makes of real output
    (formats, diarized answers, fields), never for the engine's own tests or those that count,
    spy on or patch its calls (docs/tests.md)."""
    from tests import fake_engine as fake

    fake.switch.memo = True
    try:
        yield fake
    finally:
        fake.switch.memo = False


@pytest.fixture(autouse=True)
def _engine_of_the_test(request):
    """`@pytest.mark.fake_engine` (on a test or its module) gives the test the fake engine,
    before any fixture of its own transcribes; `@pytest.mark.inference` on a test of such a
    module keeps the real one (its subject is the engine's output)."""
    marked = request.node.get_closest_marker("fake_engine")
    if marked is not None and request.node.get_closest_marker("inference") is None:
        request.getfixturevalue("fake_engine")


@pytest.fixture
def stalled_queue(monkeypatch):
    """Jobs are stored with their first chunk, but no worker is given a turn to take them
    (injected fault): a test runs them itself with tasks.run_chunk()."""
    monkeypatch.setattr("transcriptions.services.chunks.turns_enqueue", lambda names: None)


def keyed_client(tenant: Tenant) -> KeyedClient:
    api_key, key = api_key_create(tenant=tenant, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return KeyedClient(client=client, tenant=tenant, api_key=api_key, key=key)


@pytest.fixture
def api_a(tenant_a) -> KeyedClient:
    return keyed_client(tenant_a)


@pytest.fixture
def api_b(tenant_b) -> KeyedClient:
    return keyed_client(tenant_b)


def assert_error(
    response,
    status: int,
    *,
    code: str | None,
    message: str | None = None,
    param: str | None = None,
    type: str = "invalid_request_error",
) -> dict:
    """An OpenAI error envelope with exactly these fields."""
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == type
    assert error["code"] == code
    if message is not None:
        assert error["message"] == message
    if param is not None:
        assert error["param"] == param
    return error


@pytest.fixture(scope="session")
def platform_server(tmp_path_factory):
    """A running platform for e2e tests: gunicorn, two workers and one kept for clients;
    embedded (SQLite, ORM broker, one qcluster) by default, or with DATABASE_URL/REDIS_URL set
    (CI's second pass) PostgreSQL and the Redis broker with two separate qcluster processes of
    one worker (and one kept for clients) each."""
    from tests.platforms import make_platform, production_like

    workers = 1 if production_like() else 2
    # Its workers preload tiny.en, the model most of its tests send; a test that sends another
    # has it loaded by the worker its job lands on (as any model left out of
    # WHISPER_PRELOAD_MODELS is): warming base up in every worker of every test process's
    # platform cost more than any test's use of it.
    platform = make_platform(
        tmp_path_factory.mktemp("platform"),
        Q_WORKERS=str(workers),
        INTERACTIVE_WORKERS="1",
        WHISPER_PRELOAD_MODELS="tiny.en",
    )
    platform.clusters = 2 if production_like() else 1
    # Every worker process: Q_WORKERS, and one more kept for clients' requests, per cluster.
    platform.worker_processes = platform.clusters * (workers + 1)
    # (start() stops what it started if the platform never gets ready.)
    platform.start(workers_ready=platform.worker_processes)
    try:
        yield platform
    finally:
        platform.stop()


def transcribe_jfk(api: KeyedClient, path: str = "/v1/audio/transcriptions", **fields):
    """POST jfk.flac through the test client (model tiny.en unless a field says otherwise)."""
    from tests.audio import JFK

    with JFK.open("rb") as f:
        return api.client.post(path, {"file": f, "model": "tiny.en", **fields}, format="multipart")
