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

from kb.i18n import MESSAGES
from kb.language import FUNCTION_WORDS, detect, words
from kb.lexical import STOPWORDS
from kb.models import Question, Turn
from kb.names import CAPITALISED_NOUNS, ENGLISH_CAPITALISED_WORDS, starts_sentence
from kb.text import WORD

SELF_CONTAINED_WORDS = 12
_NO_TOPIC = FUNCTION_WORDS | STOPWORDS


def standalone_query(question: Question) -> str:
    previous = _answered_questions(question.history)
    if not previous or len(words(question.text)) >= SELF_CONTAINED_WORDS:
        return question.text
    # "And the Eureka?" after "How much does the Niche Zero cost?" asks the same
    # of another name: the earlier question's names would pull it back.
    leave_out = _names(previous[-1]) if _names(question.text) else frozenset()
    return f"{question.text} {topic_words(previous[-1], leave_out)}".strip()


def _answered_questions(history: tuple[Turn, ...]) -> list[str]:
    """The user's earlier questions, without those the sources did not cover:
    "Et le Comandante ?" after "What is the capital of Australia?" (refused)
    takes its subject from the question before, not from Australia."""
    asked: list[str] = []
    for at, turn in enumerate(history):
        reply = history[at + 1] if at + 1 < len(history) else None
        text = turn.content.strip()
        if turn.role != "user" or not text:
            continue
        if reply is not None and reply.role == "assistant" and reply.content.strip().startswith(_REFUSALS):
            continue
        asked.append(text)
    return asked


# How omnikb's refusals start, in every language it speaks.
_REFUSALS = tuple(
    sorted(
        {
            text.split("{", 1)[0].strip()
            for messages in MESSAGES.values()
            for key, text in messages.items()
            if key in ("not_covered", "not_mentioned") and len(text.split("{", 1)[0].strip()) >= 10
        }
    )
)


def topic_words(text: str, leave_out: frozenset[str] = frozenset()) -> str:
    """``text``'s words without the function words of any language omnikb knows
    ("what", "qué", "quoi") and without ``leave_out``."""
    return " ".join(word for word in words(text) if word.casefold() not in _NO_TOPIC and word not in leave_out)


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


# "How much/many" in the supported languages: it asks for an amount when it
# opens the question, within its first few words ("And how many …?").
OPENING_WORDS = 3
_AMOUNT_QUESTION_WORDS = frozenset(
    """
    much many quanto quanta quantos quantas cuánto cuánta cuántos cuántas cât câtă câți câte
    combien viel viele wieviel wieviele quanti quante كم
    """.split()
)
# Nouns that name an amount ("what percentage", "rate"), and so do those for
# the size of a change (nouns only: "growth", "aumento"; the verb "increase"
# asks how, not how much).
_AMOUNT_NOUNS = frozenset(
    """
    percent percentage percentages number numbers figure figures statistic statistics rate rates
    percentagem porcentagem número números estatística estatísticas taxa taxas
    porcentaje cifra cifras estadística estadísticas tasa tasas
    procent procentul procente număr numărul cifre statistică statistici rată rata
    pourcentage chiffre chiffres statistique statistiques taux
    prozent prozentsatz anteil zahl zahlen statistik statistiken
    percentuale numero numeri statistica statistiche tasso
    نسبة النسبة عدد رقم أرقام إحصائية إحصائيات معدل
    growth aumento crescimento incremento crecimiento creștere creșterea creșteri
    augmentation hausse croissance anstieg zunahme steigerung wachstum crescita زيادة الزيادة نمو ارتفاع
    """.split()
)


def asks_for_quantity(text: str) -> bool:
    """Whether a question asks for an amount (and gives none itself): it opens
    with "how much/many" ("¿Cuánto…?", "كم…؟") or names an amount it wants
    ("what percentage", "the increase"). A "how much" further in asks about an
    amount, not for one ("Does it matter how much loyalty I have?", "as many
    channels as you can")."""
    if any(ch.isdigit() for ch in text):
        return False
    folded = [word.casefold() for word in words(text)]
    return bool(set(folded[:OPENING_WORDS]) & _AMOUNT_QUESTION_WORDS or set(folded) & _AMOUNT_NOUNS)


# An amount: a number on its own (not a date or year, a list number or part of
# a name like "3PL") followed by "%" or by a word ("91% more", "30 clientes").
_AMOUNT = re.compile(r"(?<![\w.])(?!(?:19|20)\d\d\b)\d+(?:[.,]\d+)?(?:\s?%|\s+[^\W\d_]{2,})")
_ENUMERATOR = re.compile(r"(?m)^\s*\d+[.)]?\s")


# Numbers written as words, followed by a word ("eight hours", "três dias"):
# from two (one is also an article: "un", "una"), leaving out the words
# another language uses otherwise ("dos" is also Portuguese "of the", "sei"
# German "be", "due" English "owed").
_NUMBER_WORDS = """
    two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred thousand million
    millions dozen
    dois duas três quatro cinco sete oito nove dez onze doze vinte trinta cem mil milhão milhões
    tres cuatro siete ocho nueve diez once doce veinte treinta cien millón millones
    doi două trei patru cinci șase șapte opt nouă zece douăzeci sute mie mii milion milioane
    deux trois quatre cinq sept huit neuf dix douze vingt trente mille
    zwei drei vier fünf sechs sieben acht neun zehn zwölf zwanzig dreißig hundert tausend millionen
    tre quattro sette otto dieci undici dodici venti trenta cento milione milioni
    ثلاثة أربعة خمسة ستة سبعة ثمانية تسعة عشرة مئة مائة ألف مليون
""".split()
_NUMBER_WORD_AMOUNT = re.compile(
    rf"(?<![^\W\d_])(?:{'|'.join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True))})\s+[^\W\d_]{{2,}}",
    re.IGNORECASE,
)


def states_quantity(text: str) -> bool:
    """Whether a passage states an amount, in figures or in words."""
    return _AMOUNT.search(_ENUMERATOR.sub("", text)) is not None or _NUMBER_WORD_AMOUNT.search(text) is not None
