"""Choose the answering backend from the settings."""

from __future__ import annotations

import logging

from kb.service import KnowledgeBase
from kb.settings import Settings

log = logging.getLogger(__name__)


def make_knowledge_base(settings: Settings) -> KnowledgeBase:
    """Extractive by default; a generative backend when a model server is configured
    (``KB_LLM_BASE_URL`` and ``KB_LLM_MODEL``), which also rewrites follow-ups."""
    if not settings.llm_enabled:
        return KnowledgeBase(settings)
    from kb.generative import GenerativeAnswerer
    from kb.llm import ModelCondenser
    from kb.model_probe import ModelServerProbe

    log.info("generative answers from %s (model %s)", settings.llm_base_url, settings.llm_model)
    kb = KnowledgeBase(settings, condenser=ModelCondenser(settings))
    kb.answerer = GenerativeAnswerer(settings, shared_words=lambda: kb.retriever.index().shared_words)
    kb.model_server = ModelServerProbe(settings)
    return kb
