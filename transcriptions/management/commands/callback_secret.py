from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant
from transcriptions.services import callback_secret_get, callback_secret_rotate


class Command(BaseCommand):
    help = "Print a tenant's callback signing secret (created on first use), or rotate it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--rotate", action="store_true")

    def handle(self, *args, slug: str, rotate: bool, **options) -> None:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant {slug!r}")
        secret = (
            callback_secret_rotate(tenant=tenant) if rotate else callback_secret_get(tenant=tenant)
        )
        self.stdout.write(secret)
