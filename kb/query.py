"""Follow-up questions become standalone queries.

Without a language model, the rule is: a short follow-up ("and its
challenges?") leans on the conversation for its subject, so the last user
question is put in front of it. A long question stands on its own.
"""

from __future__ import annotations

from kb.language import words
from kb.models import Question

SELF_CONTAINED_WORDS = 12


def standalone_query(question: Question) -> str:
    previous = [turn.content.strip() for turn in question.history if turn.role == "user" and turn.content.strip()]
    if not previous or len(words(question.text)) >= SELF_CONTAINED_WORDS:
        return question.text
    return f"{previous[-1]} {question.text}"
