"""The web process's server settings (ops/web_worker.py), as uvicorn resolves them."""

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol

from ops.web_worker import WebWorker


def test_http_is_parsed_by_httptools_and_websockets_by_websockets():
    """The C parser, named: under "auto" a missing httptools would quietly mean h11, in pure
    Python (1.7 x slower to read a 20 MB upload)."""
    config = Config("config.asgi:application", **WebWorker.CONFIG_KWARGS)
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
    assert config.ws_protocol_class is WebSocketProtocol


def test_websocket_messages_are_read_no_further_than_a_margin_past_the_apps_limit(settings):
    """The consumer refuses past REALTIME_MAX_MESSAGE_BYTES with an `error` event; uvicorn
    refuses from the frame's header what is further still, and reads at most WS_MAX_QUEUE
    messages ahead of the consumer."""
    config = Config("config.asgi:application", **WebWorker.CONFIG_KWARGS)
    assert config.ws_max_size == settings.REALTIME_MAX_MESSAGE_BYTES + 64 * 1024
    assert config.ws_max_size * config.ws_max_queue <= 40 * 1024 * 1024
