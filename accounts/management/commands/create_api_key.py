from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Tenant
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a tenant. Prints the key alone: it is not shown again."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, slug: str, name: str, expires_in_days: int | None, **options) -> None:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant {slug!r}")
        expires_at = None
        if expires_in_days is not None:
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        _, key = api_key_create(tenant=tenant, name=name, expires_at=expires_at)
        self.stdout.write(key)
