"""Run the web app (API + chat) with uvicorn: ``python app.py`` or ``kb serve``."""

from __future__ import annotations

import logging

from kb.settings import Settings

log = logging.getLogger(__name__)


def serve(settings: Settings) -> None:
    """Serve the API and the chat on ``settings.host:settings.port`` until stopped.

    The HTTP protocol is uvicorn's with the slow-client limits of ``kb.web.slow_clients``
    (``KB_REQUEST_TIMEOUT``, ``KB_SEND_TIMEOUT``); an idle keep-alive connection
    is closed after ``KEEP_ALIVE_SECONDS``.
    """
    import uvicorn

    from kb.web.chat import build_server
    from kb.web.slow_clients import KEEP_ALIVE_SECONDS, guarded_protocol

    app = build_server(settings)
    log.warning("omnikb on http://%s:%d (API docs at /docs)", settings.host, settings.port)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        http=guarded_protocol(settings.request_timeout, settings.send_timeout),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
