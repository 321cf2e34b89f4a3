from django.core.management.base import BaseCommand, CommandError

from accounts.errors import ApiKeyNotFound
from accounts.services import api_key_revoke


class Command(BaseCommand):
    help = "Revoke an API key by its prefix (the `sk-` and the characters shown after it)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("prefix")

    def handle(self, *args, prefix: str, **options) -> None:
        try:
            api_key = api_key_revoke(prefix=prefix)
        except ApiKeyNotFound as exc:
            raise CommandError(f"No API key with prefix {prefix!r}") from exc
        self.stdout.write(api_key.prefix)
