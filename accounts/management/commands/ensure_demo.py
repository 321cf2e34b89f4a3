"""Used by `make run`: a demo tenant and a working key, kept across restarts."""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import Tenant
from accounts.selectors import api_key_find
from accounts.services import api_key_create

DEMO_SLUG = "demo"


class Command(BaseCommand):
    help = "Ensure the demo tenant exists and print a usable demo API key."

    def handle(self, *args, **options) -> None:
        tenant, _ = Tenant.objects.get_or_create(slug=DEMO_SLUG, defaults={"name": "Demo"})
        # The demo key is kept (mode 0600) beside the demo database so that a restart does not
        # invalidate the key a developer already exported; production keys are never written.
        key_file = Path(settings.VAR_DIR) / "demo-api-key"
        key = key_file.read_text().strip() if key_file.exists() else ""
        found = api_key_find(key=key) if key else None
        if found is None or not found.is_usable or found.tenant_id != tenant.pk:
            _, key = api_key_create(tenant=tenant, name="demo")
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(key + "\n")
            os.chmod(key_file, 0o600)
        self.stdout.write(key)
