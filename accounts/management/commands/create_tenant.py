from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from accounts.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (organization). Prints its slug."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default="")

    def handle(self, *args, slug: str, name: str, **options) -> None:
        try:
            tenant = tenant_create(slug=slug, name=name)
        except IntegrityError as exc:
            raise CommandError(f"Tenant {slug!r} already exists") from exc
        self.stdout.write(tenant.slug)
