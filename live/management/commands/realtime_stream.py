"""`manage.py realtime_stream FILE`: stream an audio file to a live transcription session in
real time (tools/realtime_client.py) and print the events as they come, for operators trying
`/v1/realtime` on their own deployment."""

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tools.realtime_client import RATES, audio_bytes, session_config, stream

# The events printed in full; the others (session.created/updated) as their type only.
BRIEF = ("session.created", "session.updated", "transcription_session.updated")


class Command(BaseCommand):
    help = (
        "Stream an audio file (any format PyAV reads) to /v1/realtime?intent=transcription in "
        "real time, with server VAD unless --commit, and print each event with its time."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
        parser.add_argument(
            "--key", default=os.environ.get("OPENAI_API_KEY"), help="default: $OPENAI_API_KEY"
        )
        parser.add_argument("--model", default="whisper-1")
        parser.add_argument("--language")
        parser.add_argument("--prompt")
        parser.add_argument("--format", dest="audio_format", default="audio/pcm", choices=RATES)
        parser.add_argument(
            "--silence-ms", type=int, default=500, help="server VAD's silence_duration_ms"
        )
        parser.add_argument("--threshold", type=float, default=0.5, help="server VAD's threshold")
        parser.add_argument(
            "--commit", action="store_true", help="no server VAD: the whole file, committed once"
        )
        parser.add_argument(
            "--pace", type=float, default=1.0, help="1: real time, 2: twice as fast, 0: at once"
        )
        parser.add_argument("--logprobs", action="store_true")
        parser.add_argument("--json", action="store_true", help="print each event as JSON")

    def handle(self, *args, file: Path, **options) -> None:
        if not file.is_file():
            raise CommandError(f"No such audio file: {file}")
        if not options["key"]:
            raise CommandError("An API key is needed: --key or $OPENAI_API_KEY.")
        audio_format = options["audio_format"]
        session = session_config(
            model=options["model"],
            audio_format=audio_format,
            language=options["language"],
            prompt=options["prompt"],
            vad={"silence_duration_ms": options["silence_ms"], "threshold": options["threshold"]},
            server_vad=not options["commit"],
            logprobs=options["logprobs"],
        )
        started: list[float] = []

        def show(moment: float, event: dict) -> None:
            if not started:
                started.append(moment)
            at = f"{moment - started[0]:7.3f}"
            if options["json"]:
                self.stdout.write(f"{at} {json.dumps(event)}")
            elif event["type"] in BRIEF:
                self.stdout.write(f"{at} {event['type']}")
            else:
                detail = {k: v for k, v in event.items() if k not in ("type", "event_id")}
                self.stdout.write(f"{at} {event['type']} {json.dumps(detail)}")
            self.stdout.flush()

        base = options["url"].rstrip("/")
        run = stream(
            base_url=base if base.endswith("/v1") else f"{base}/v1",
            api_key=options["key"],
            audio=audio_bytes(file, audio_format, trailing_silence=0 if options["commit"] else 1.5),
            audio_format=audio_format,
            session=session,
            pace=options["pace"],
            commit=options["commit"],
            on_event=show,
        )
        self.stdout.write(f"transcript: {run.transcript}")
