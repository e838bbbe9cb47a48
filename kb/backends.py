"""Choose the answering backend from the settings."""

from __future__ import annotations

from kb.service import KnowledgeBase
from kb.settings import Settings


def make_knowledge_base(settings: Settings) -> KnowledgeBase:
    """Extractive by default; a generative backend when a model server is configured."""
    return KnowledgeBase(settings)
