"""Used by `make run`: a demo tenant and a working key, kept across restarts; with `--login`,
also a demo owner who can sign in to the dashboard, and how to do so."""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Membership, Tenant
from accounts.selectors import api_key_find
from accounts.services import api_key_create, membership_create

DEMO_SLUG = "demo"
DEMO_USER = "demo"


def _write_secret(path: Path, value: str) -> None:
    """Mode 0600 from the start: the file never exists readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)


class Command(BaseCommand):
    help = "Ensure the demo tenant exists and print a usable demo API key."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--login",
            action="store_true",
            help="also ensure a demo owner for the dashboard and print how to sign in",
        )
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="for the message")

    @transaction.atomic
    def handle(self, *args, login: bool, url: str, **options) -> None:
        tenant, _ = Tenant.objects.get_or_create(slug=DEMO_SLUG, defaults={"name": "Demo"})
        # The demo key is kept beside the demo database so that a restart does not invalidate
        # the key a developer already exported; production keys are never written.
        key_file = Path(settings.VAR_DIR) / "demo-api-key"
        key = key_file.read_text().strip() if key_file.exists() else ""
        found = api_key_find(key=key) if key else None
        if found is None or not found.is_usable or found.tenant_id != tenant.pk:
            _, key = api_key_create(tenant=tenant, name="demo")
            _write_secret(key_file, key)
        if not login:
            self.stdout.write(key)
            return
        self.stdout.write(f"Demo API key (tenant '{DEMO_SLUG}', kept in {key_file}):\n{key}")
        self.stdout.write(self._login(tenant=tenant, url=url))

    def _login(self, *, tenant: Tenant, url: str) -> str:
        """The demo owner's password is random, made once and kept (0600) beside the key; once
        someone changes it, the file no longer matches and is not shown."""
        password_file = Path(settings.VAR_DIR) / "demo-password"
        user = get_user_model().objects.filter(username=DEMO_USER).first()
        if user is None:
            user = get_user_model()(username=DEMO_USER)
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save()
            _write_secret(password_file, password)
        if not Membership.objects.filter(tenant=tenant, user=user).exists():
            membership_create(tenant=tenant, user=user, role=Membership.Role.OWNER)
        kept = password_file.read_text().strip() if password_file.exists() else ""
        change = f"python manage.py changepassword {DEMO_USER}"
        if kept and user.check_password(kept):
            secret = f"password {kept} (kept in {password_file}; change it: {change})"
        else:
            secret = f"the password you set (forgotten? {change})"
        return f"Dashboard: {url}  user {DEMO_USER}, {secret}"
