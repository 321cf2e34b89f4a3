"""`manage.py build_conversations`: the accuracy scenario's conversations (tools/conversations.py),
built from the public recordings they are cut from."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tools.conversations import CONVERSATIONS_DIR, POCKETSPHINX_VERSION, SOURCES, build

FETCH = (
    "Fetch them into one directory with the ordinary clients:\n"
    "  apt-get download asterisk-core-sounds-en-g722 && "
    "dpkg-deb -x asterisk-core-sounds-en-g722_*.deb DIR\n"
    f"  pip download --no-deps --no-binary :all: pocketsphinx=={POCKETSPHINX_VERSION} -d DIR"
)


class Command(BaseCommand):
    help = (
        "Build the accuracy scenario's conversations (Opus in Ogg and a ground truth each) from "
        "Debian's Asterisk prompts and pocketsphinx's test recordings. " + FETCH
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("sources", type=Path, help="the directory the sources are in")
        parser.add_argument(
            "--out", type=Path, default=CONVERSATIONS_DIR, help="where to write them"
        )
        parser.add_argument(
            "--model",
            default="whisper-1",
            help="the bare engine's model, for the text of a clip whose publisher gives none",
        )

    def handle(self, *args, **options) -> None:
        from tools.measure import BareEngine
        from tools.options import resolve_model

        sources: Path = options["sources"]
        needed = sorted({source.path.partition(":")[0] for source in SOURCES.values()})
        missing = [name for name in needed if not (sources / name).is_file()]
        if missing:
            raise CommandError(f"Not in {sources}: {', '.join(missing)}\n{FETCH}")
        bare = BareEngine(model_id=resolve_model(options["model"]), threads=0)

        def transcribe(samples) -> str:
            segments, _ = bare.model.transcribe(samples, **bare.options)
            return "".join(segment.text for segment in segments)

        for path in build(sources, options["out"], transcribe=transcribe):
            self.stdout.write(str(path))
