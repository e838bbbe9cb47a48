"""Follow-up questions become standalone queries.

Without a language model, the rule is: a short follow-up ("and its
challenges?") leans on the conversation for its subject, so the topic words of
the last user question are added after it. Only its topic words: the earlier
question's "what is" would pull a follow-up about challenges back to
definitions, and the follow-up's own words say what is asked now. A long
question stands on its own.
"""

from __future__ import annotations

import re
from dataclasses import replace

from kb.i18n.lookup import MESSAGES
from kb.models import Question, Turn
from kb.search.lexical import STOPWORDS
from kb.search.names import CAPITALISED_NOUNS, ENGLISH_CAPITALISED_WORDS, starts_sentence
from kb.text import lexicon
from kb.text.language import FUNCTION_WORDS, detect, words
from kb.text.words import WORD

SELF_CONTAINED_WORDS = 12
_NO_TOPIC = FUNCTION_WORDS | STOPWORDS
# "In short?": words that ask for the gist of what was said; they name no subject either.
_BREVITY = frozenset(word.casefold() for word in lexicon.every("brevity_words"))
# "Tell me more", "In short?": words that ask for more, or for less, and name no subject.
_CONTINUATION = frozenset(word.casefold() for word in lexicon.every("continuation_words")) | _BREVITY
# "Thanks!", "Olá": greetings and thanks, which ask nothing.
_COURTESY = frozenset(word.casefold() for word in lexicon.every("courtesy_words"))
_NUMBER = re.compile(r"\d+")

# A model's rewrite of a follow-up is a query, not an answer: at most this many
# words more than the follow-up and the question before it have together, ...
REWRITE_EXTRA_WORDS = 8
# ... and at least this share of its topic words are the conversation's (a word
# counts when its first ``STEM`` letters are: "benefits" is "benefit").
REWRITE_KNOWN_SHARE = 0.7
STEM = 5


def standalone_query(question: Question) -> str:
    previous = _answered_questions(question.history)
    if not previous or len(words(question.text)) >= SELF_CONTAINED_WORDS or is_courtesy(question.text):
        # "Obrigada!" after an answer borrows nothing: it asks nothing.
        return question.text
    at, text = previous[-1]
    earlier = replace(question, text=text, history=question.history[:at])
    if asks_for_more(question.text):
        # "Tell me more" after "And the challenges?" asks again what that question
        # asked, in full ("And the challenges? omnichannel strategy"); its answer
        # leaves out what was quoted. It names nothing that could change the subject.
        return standalone_query(earlier)
    # A question that asked for more lends what it asked.
    lent = standalone_query(earlier) if asks_for_more(text) else text
    # "And the Eureka?" after "How much does the Niche Zero cost?" asks the same
    # of another name: the earlier question's names would pull it back.
    leave_out = _names(lent) if _names(question.text) else frozenset()
    return f"{question.text} {topic_words(lent, leave_out)}".strip()


def asks_for_more(text: str) -> bool:
    """Whether a follow-up asks for more of what was said and names no subject
    of its own: function words and words such as "tell", "explain", "short"
    alone ("Tell me more", "¿Por qué?", "باختصار؟")."""
    found = [word.casefold() for word in words(text)]
    return bool(found) and all(word in _NO_TOPIC or word in _CONTINUATION for word in found) and not is_courtesy(text)


def is_courtesy(text: str) -> bool:
    """Whether ``text`` is greetings or thanks alone ("Obrigada!", "Thanks, great!"):
    function words and at least one word of courtesy. It asks nothing, and after an
    answer it asks for nothing more either."""
    found = [word.casefold() for word in words(text)]
    return any(word in _COURTESY for word in found) and all(word in _NO_TOPIC or word in _COURTESY for word in found)


def asks_in_short(text: str) -> bool:
    """Whether a follow-up that asks for more (``asks_for_more``) asks for it in
    short ("In short?", "Pe scurt?", "En pocas palabras"): the gist of what the
    question before it asked, not what its answer left out."""
    return asks_for_more(text) and any(word.casefold() in _BREVITY for word in words(text))


def _answered_questions(history: tuple[Turn, ...]) -> list[tuple[int, str]]:
    """The user's earlier questions, each with its place in ``history``, without
    those the sources did not cover: "Et le Comandante ?" after "What is the
    capital of Australia?" (refused) takes its subject from the question before,
    not from Australia."""
    asked: list[tuple[int, str]] = []
    for at, turn in enumerate(history):
        reply = history[at + 1] if at + 1 < len(history) else None
        text = turn.content.strip()
        if turn.role != "user" or not text:
            continue
        if reply is not None and reply.role == "assistant" and reply.content.strip().startswith(_REFUSALS):
            continue
        asked.append((at, text))
    return asked


# How omnikb's refusals start, in every language it speaks.
_REFUSALS = tuple(
    sorted(
        {
            text.split("{", 1)[0].strip()
            for messages in MESSAGES.values()
            for key, text in messages.items()
            if key in ("not_covered", "not_mentioned", "courtesy") and len(text.split("{", 1)[0].strip()) >= 10
        }
    )
)


def borrowed_words(query: str, text: str) -> str:
    """What a follow-up's standalone ``query`` adds to its ``text``: the topic
    words ``standalone_query`` puts after it, or the words of a model's rewrite
    that the follow-up did not say."""
    if query.startswith(text):
        return query[len(text) :].strip()
    said = {word.casefold() for word in words(text)}
    return " ".join(word for word in words(query) if word.casefold() not in said)


def topic_words(text: str, leave_out: frozenset[str] = frozenset()) -> str:
    """``text``'s words without the function words of any language omnikb knows
    ("what", "qué", "quoi"), without words that only ask for more ("tell",
    "explain") and without ``leave_out``."""
    return " ".join(
        word
        for word in words(text)
        if word.casefold() not in _NO_TOPIC and word.casefold() not in _CONTINUATION and word not in leave_out
    )


def _names(text: str) -> frozenset[str]:
    """The capitalised words inside ``text``'s sentences ("Niche", "Zero"), where
    a capital marks a name: not in German, which capitalises every noun, nor in
    a title-cased question (too short a question cannot tell: "¿Y Phone House?")."""
    if detect(text) in CAPITALISED_NOUNS:
        return frozenset()
    matches = list(WORD.finditer(text))[1:]
    found = [m for m in matches if m.group()[:1].isupper() and not starts_sentence(text, m.start())]
    inside = len(words(text)) - 1
    if inside >= 4 and len(found) * 2 > inside:  # title case ("What Is The Best Grinder?")
        return frozenset()
    return frozenset(m.group() for m in found if m.group().casefold() not in ENGLISH_CAPITALISED_WORDS)


def rewrite_problem(query: str, question: Question) -> str | None:
    """Why a model's rewrite of ``question`` is not a standalone query, or None.

    A rewrite says what the follow-up asks in the conversation's words: one
    sentence, short (the follow-up and the last question's length, and a few
    words more), no number the conversation does not have, and mostly the
    conversation's and the follow-up's topic words. An answer ("benefits
    include improved customer satisfaction, increased brand loyalty…") is none.
    """
    from kb.text.sentences import sentence_spans

    said = [question.text, *(turn.content for turn in question.history)]
    previous = _answered_questions(question.history)
    limit = len(words(question.text)) + len(words(previous[-1][1] if previous else "")) + REWRITE_EXTRA_WORDS
    if len(words(query)) > limit:
        return f"longer ({len(words(query))} words) than a rewrite of this follow-up ({limit})"
    if len(sentence_spans(query)) > 1:
        return "more than one sentence"
    new_numbers = set(_NUMBER.findall(query)) - {n for text in said for n in _NUMBER.findall(text)}
    if new_numbers:
        return f"numbers the conversation does not have: {sorted(new_numbers)}"
    topic = [w.casefold() for w in words(query) if w.casefold() not in _NO_TOPIC]
    known = {w.casefold()[:STEM] for text in said for w in words(text)}
    if topic:
        share = sum(w[:STEM] in known for w in topic) / len(topic)
        if share < REWRITE_KNOWN_SHARE:
            return f"only {share:.0%} of its words are the conversation's"
    return None
