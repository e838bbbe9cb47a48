"""Run the web app (API + chat) with uvicorn: ``python app.py`` or ``kb serve``."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from kb.settings import Settings

log = logging.getLogger(__name__)


def serve(settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the API and the chat on ``settings.host:settings.port`` until stopped;
    ``on_ready`` is given the line that says where, once it listens.

    The HTTP protocol is uvicorn's with the slow-client limits of ``kb.web.slow_clients``
    (``KB_REQUEST_TIMEOUT``, ``KB_SEND_TIMEOUT``); an idle keep-alive connection
    is closed after ``KEEP_ALIVE_SECONDS``.
    """
    import uvicorn
    from uvicorn.main import STARTUP_FAILURE

    from kb.web.chat import build_server
    from kb.web.slow_clients import KEEP_ALIVE_SECONDS, guarded_protocol

    app = build_server(settings)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{host}:{settings.port}"
    address = f"omnikb on {url} (API docs at {url}/docs)"

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # listening: the address is said once, now that it answers
                log.info("%s", address)
                if on_ready is not None:
                    on_ready(address)

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        http=guarded_protocol(settings.request_timeout, settings.send_timeout),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server = Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:  # as uvicorn.run: the port was taken, say
        raise SystemExit(STARTUP_FAILURE)
