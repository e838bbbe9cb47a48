"""Everyday questions that no knowledge base about one subject answers.

The same four topics (bread, a mountain, a painting, a spider) in every
language omnikb recognises, so that each language has its own measure of
what "not covered" scores: questions in a language the articles are written
in score higher against them whatever they ask, and questions in a script
the model knows less well score lower, even when they are on the subject.
"""

from __future__ import annotations

from kb.text import lexicon

# In each language of kb/text/data/, four questions.
OFF_TOPIC_PROBES: dict[str, tuple[str, ...]] = lexicon.by_language("off_topic_probes")
