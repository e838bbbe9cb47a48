"""Whether the configured model server can answer, for ``/api/health``.

A server that is down, refuses the API key or does not have the model makes
every generated answer fall back to quotes, which a reader cannot tell from a
working setup. The probe asks the server's model list (``GET {base}/models``,
which OpenAI, Ollama, vLLM, llama.cpp and LM Studio all serve) with the same
key, and keeps the result for ``PROBE_SECONDS`` so that a load balancer's
health checks do not become a load on the model server.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from kb.llm.client import PLACEHOLDER_API_KEY, describe, timeouts
from kb.settings import Settings

log = logging.getLogger(__name__)

PROBE_SECONDS = 30.0
# The probe's own bound on a reply: a health check must not wait the whole answer timeout.
PROBE_READ_SECONDS = 5.0
LISTED = 10  # models named in the status when the configured one is missing


@dataclass(frozen=True)
class ModelServerStatus:
    """``state``: ``ok``, ``unreachable``, ``unauthorized``, ``model_missing`` or
    ``unknown`` (the server answered, but not with a model list)."""

    state: str
    model: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"status": self.state, "model": self.model}
        if self.detail:
            shown["detail"] = self.detail
        return shown


class ModelServerProbe:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._last: tuple[float, ModelServerStatus] | None = None

    def status(self) -> ModelServerStatus:
        """The server's state, probed at most once per ``PROBE_SECONDS``."""
        with self._lock:
            now = time.monotonic()
            if self._last is None or now - self._last[0] >= PROBE_SECONDS:
                self._last = (now, self._probe())
            return self._last[1]

    def _probe(self) -> ModelServerStatus:
        model = str(self.settings.llm_model)
        limits = timeouts(self.settings)
        url = str(self.settings.llm_base_url).rstrip("/") + "/models"
        headers = {"Authorization": f"Bearer {self.settings.llm_api_key or PLACEHOLDER_API_KEY}"}
        bound = httpx.Timeout(min(PROBE_READ_SECONDS, limits.read), connect=limits.connect)
        try:
            reply = httpx.get(url, headers=headers, timeout=bound)
        except httpx.HTTPError as exc:
            log.info("model server probe: %s", describe(exc))
            return ModelServerStatus("unreachable", model, describe(exc))
        if reply.status_code in (401, 403):
            return ModelServerStatus("unauthorized", model, f"HTTP {reply.status_code}: check KB_LLM_API_KEY")
        if reply.status_code != 200:
            return ModelServerStatus("unknown", model, f"HTTP {reply.status_code} from {url}")
        try:
            listed = [str(item["id"]) for item in reply.json()["data"]]
        except (ValueError, KeyError, TypeError):
            return ModelServerStatus("unknown", model, f"{url} sent no model list")
        if model in listed or f"{model}:latest" in listed:  # Ollama lists "llama3" as "llama3:latest"
            return ModelServerStatus("ok", model)
        names = ", ".join(listed[:LISTED]) + (", …" if len(listed) > LISTED else "")
        return ModelServerStatus("model_missing", model, f"the server has {names or 'no models'}: check KB_LLM_MODEL")
