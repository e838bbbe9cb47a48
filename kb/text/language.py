"""Language detection, restricted to the languages we support."""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from kb.text import lexicon
from kb.text.words import ARABIC_SCRIPT, WORD

# The languages omnikb was built for: their short questions have cues
# (function words), and the evaluation sets ask in them.
SUPPORTED = ("en", "pt", "es", "ro", "ar", "fr", "de", "it")
# Latin-script languages that are told apart too, so that a Dutch or Polish
# question is not taken for German or Portuguese (a generated answer would be
# written in that language). Each costs about 22 MB of language model, so the
# list is short.
RECOGNISED = (*SUPPORTED, "nl", "pl", "ca", "tr", "sv", "cs")
# Languages told by their script and letters alone (``_by_script``).
BY_SCRIPT = ("el", "he", "th", "hi", "ko", "ja", "zh", "ru", "uk", "fa")
# Every language ``detect`` can return: omnikb's own words and the
# answerability probes exist in each of them.
DETECTED = (*RECOGNISED, *BY_SCRIPT)
DEFAULT_LANGUAGE = "en"

_ARABIC = re.compile(f"[{ARABIC_SCRIPT}]")
# Letters that Persian writes and Arabic does not.
_PERSIAN = re.compile("[" + re.escape(lexicon.characters("fa", "own_letters")) + "]")
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
# Scripts that tell the language without a model, first match wins (kana
# before Han: Japanese writes both).
_SCRIPTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]"), "el"),
    (re.compile(r"[\u0590-\u05ff]"), "he"),
    (re.compile(r"[\u0e00-\u0e7f]"), "th"),
    (re.compile(r"[\u0900-\u097f]"), "hi"),
    (re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]"), "ko"),
    (re.compile(r"[\u3040-\u30ff]"), "ja"),
    (re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]"), "zh"),
    (re.compile(r"[\u0400-\u04ff]"), "ru"),
)
_CJK = frozenset({"ko", "ja", "zh"})
_UKRAINIAN = re.compile("[" + re.escape(lexicon.characters("uk", "own_letters")) + "]")
_lock = threading.Lock()


_built: LanguageDetector | None = None


def _detector(preload: bool = False) -> LanguageDetector:
    """The statistical detector, built once. Preloaded (``warm_up``, a server), it loads every
    language's models at once (seconds); otherwise each language's models load when a text
    first needs them, and a text whose letters rule languages out (ã, ß, ç…) loads fewer.
    The two compute the same values."""
    global _built
    if _built is None:
        languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in RECOGNISED]
        builder = LanguageDetectorBuilder.from_languages(*languages)
        _built = (builder.with_preloaded_language_models() if preload else builder).build()
    return _built


def warm_up() -> None:
    with _lock:
        _detector(preload=True)


def is_rtl(language: str) -> bool:
    return language in lexicon.right_to_left()


def script(language: str) -> str:
    """The script ``language`` (an ISO 639-1 code) is written in."""
    return lexicon.scripts().get(language, "Latin")


def readability(text_language: str, reader: str) -> int:
    """How well a reader of ``reader`` reads text in ``text_language``: 2 their
    own language, 1 another in their script (names and cognates still show), 0 neither."""
    if text_language == reader:
        return 2
    return 1 if script(text_language) == script(reader) else 0


# Every ISO 639-1 code: a language given by a caller must be one of them.
ISO_639_1 = lexicon.iso_639_1()


def detect(
    text: str, ignore: Iterable[str] = (), default: str = DEFAULT_LANGUAGE, context: str | None = None
) -> str:
    """ISO 639-1 code of ``text``.

    ``ignore`` holds words that carry no evidence of a language, such as the
    loanwords a corpus shares across its languages ("omnichannel",
    "marketing"): they are masked before detection so that "Ce este
    marketingul omnichannel?" is Romanian, not English. ``context``: the
    language of the conversation so far, which a short text that tells
    nothing on its own ("Niche Zero?", a name) is taken to continue.
    """
    letters = _LETTERS.findall(text)
    if not letters:
        # "?", "🙂", "42": nothing to tell a language by.
        return context or default
    ignored = {w.casefold() for w in ignore}
    script = _by_script(text, letters, ignored)
    if script is not None:
        return script
    if len({letter.casefold() for letter in letters}) < MIN_TELLING_LETTERS and _by_cues(text) is None:
        # "a a a", "ok", "xxxx": too few letters to tell a language by, however
        # many times they are repeated; as with none at all.
        return context or default
    framed = _by_whole_frame(text)
    if framed is not None:
        # What the steps below come to for such a question, without the statistical
        # detector, whose models take seconds to load (a cold ``kb ask``).
        return framed
    found = WORD.findall(text)
    masked = " ".join(w for w in found if w.casefold() not in ignored)
    if found and not masked:
        # Only words the corpus writes in several languages ("omnicanal?"): they tell
        # none of them, and the detector's guess from their letters was Italian.
        return context or default
    sample = masked if len(masked) >= 3 else text
    with _lock:
        ranked = _detector().compute_language_confidence_values(sample[:5000])
    if not ranked or ranked[0].value <= 0:
        # No language has any evidence ("ab ab ab …"): the first in the list is no guess.
        return context or default
    code, confidence = ranked[0].language.iso_code_639_1.name.lower(), ranked[0].value
    short = len(WORD.findall(text)) <= SHORT_TEXT_WORDS
    if short and confidence >= SURE:
        # Sure from a name's letters ("û" is French only), perhaps: a short
        # question's own words say more of the language it is asked in.
        frame = _by_frame(text, code)
        if frame is not None:
            return frame
    if confidence < UNSURE or (short and confidence < SURE):
        # A short question gives the detector little to go on: unless it is
        # sure (a letter only one language writes, say), the function words
        # and letters decide, when one language leads.
        cued = _by_cues(text)
        if cued is not None:
            return cued
        if context is not None:
            return context
    return code


def preferred(accept_language: str | None) -> str | None:
    """The reader's most preferred language that omnikb tells apart, from an
    HTTP Accept-Language header ("pt-PT,pt;q=0.9,en;q=0.8" → "pt")."""
    tag = preferred_tag(accept_language)
    return tag.split("-")[0] if tag is not None else None


def preferred_tag(accept_language: str | None) -> str | None:
    """The whole tag of that language, lower case ("zh-tw,zh;q=0.9" → "zh-tw")."""
    ranked: list[tuple[float, int, str]] = []
    for position, entry in enumerate((accept_language or "").split(",")[:MAX_ACCEPTED]):
        tag, *parameters = (part.strip() for part in entry.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        full = tag.replace("_", "-").lower()
        if full.split("-")[0] in DETECTED and weight > 0:
            ranked.append((-weight, position, full))
    return min(ranked)[2] if ranked else None


# Chinese written in Traditional characters: the script named, or the regions that write it.
_TRADITIONAL_TAGS = frozenset({"hant", "tw", "hk", "mo"})
# Characters that each script writes its own way, in the same order: 這/这, 個/个…
_TRADITIONAL_ONLY = frozenset(lexicon.characters("zh", "traditional_only"))
_SIMPLIFIED_ONLY = frozenset(lexicon.characters("zh", "simplified_only"))


def traditional_tag(tag: str | None) -> bool:
    """Whether a language tag asks for Chinese in Traditional characters ("zh-TW", "zh-Hant-HK")."""
    parts = (tag or "").replace("_", "-").lower().split("-")
    return parts[0] == "zh" and "hans" not in parts and bool(_TRADITIONAL_TAGS.intersection(parts[1:]))


def writes_traditional(text: str) -> bool | None:
    """Whether Chinese text is written in Traditional characters; None when nothing tells."""
    traditional = sum(1 for ch in text if ch in _TRADITIONAL_ONLY)
    simplified = sum(1 for ch in text if ch in _SIMPLIFIED_ONLY)
    return None if traditional == simplified else traditional > simplified


def from_locale(value: str | None) -> str | None:
    """The language of a POSIX locale ("pt_PT.UTF-8" → "pt"); None for "C" or "POSIX"."""
    code = (value or "").split(".")[0].split("@")[0].split("_")[0].lower()
    return code if code in DETECTED else None


# Entries of an Accept-Language header looked at (browsers send a handful).
MAX_ACCEPTED = 20


def _by_script(text: str, letters: list[str], ignored: Collection[str] = ()) -> str | None:
    """The language a non-Latin script tells, when half the words are in it.

    Words, not letters: "ما الفرق بين omnichannel و multichannel؟" has more
    Latin letters than Arabic ones, in two loanwords among six words. The
    ``ignored`` words (the corpus's loanwords) do not count.
    """
    found = [word for word in WORD.findall(text) if word[0].isalpha()]
    initials = [word[0] for word in found if word.casefold() not in ignored] or [w[0] for w in found] or letters
    arabic = sum(1 for ch in initials if _ARABIC.match(ch))
    if arabic * 2 >= len(initials):
        return "fa" if _PERSIAN.search(text) else "ar"
    for pattern, code in _SCRIPTS:
        if sum(1 for ch in initials if pattern.match(ch)) * 2 >= len(initials):
            return "uk" if code == "ru" and _UKRAINIAN.search(text) else code
    # Korean, Japanese or Chinese with Latin names in it: even a few such letters tell.
    return next((code for pattern, code in _SCRIPTS if code in _CJK and pattern.search(text)), None)


# A text with fewer different letters than this ("ok", "a a a", "xxxx") tells
# no language by them, unless one is a cue (a word or letter of one language).
MIN_TELLING_LETTERS = 3
# A short question ("Und Zalando?", "What is autolyse?") gives the statistical
# detector too little text; its function words and letters tell more. A word
# only one list has is a cue; a word several have shares its vote among them.
SHORT_TEXT_WORDS = 7
# The detector's confidence above which the cues do not overrule it.
SURE = 0.9
# Votes of one language's function words that name a short question's language
# against a sure detector that none of its words agree with (the opening
# question word counts two).
FRAME_VOTES = 2
# Below this, the cues overrule it however long the text: a loanword phrase
# misleads it ("What is the ratio of café au lait?" came out French, 0.43).
UNSURE = 0.5
# Question words, articles, pronouns and the like, and the greetings and thanks
# that open or close a conversation ("Hello" was Italian to the detector).
_FUNCTION_WORDS = lexicon.by_language("function_words", "function_words_indexed")


def _owners(lists: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """Each word of the lists, with the languages whose list has it."""
    owners: dict[str, tuple[str, ...]] = {}
    for language, listed in lists.items():
        for word in listed:
            if language not in owners.get(word, ()):
                owners[word] = (*owners.get(word, ()), language)
    return owners


# Each function word, with the languages whose list has it.
_FUNCTION_WORD_LANGUAGES = _owners(_FUNCTION_WORDS)
# Every language's function words together: words that carry no topic.
FUNCTION_WORDS = frozenset(_FUNCTION_WORD_LANGUAGES)
# Letters (and marks) that only one of the supported languages writes.
_CUE_LETTERS = {
    letter: language for language, letters in lexicon.by_language("cue_letters").items() for letter in letters
}


# Two shared words that together only one language writes: "o" and "que" are
# Portuguese, Spanish and more, but "o que" ("what") is Portuguese only.
# "De ce" opens a Romanian question ("why"), and only opens one: further in, it
# is French as often ("les avantages de ce modèle").
_CUE_PHRASES = {
    phrase: language
    for language, phrases in lexicon.by_language("cue_phrases", "opening_cue_phrases").items()
    for phrase in phrases
}
_OPENING_ONLY = lexicon.every("opening_cue_phrases")
_PHRASE = re.compile(r"(?<!\w)(" + "|".join(_CUE_PHRASES) + r")(?!\w)")


def _by_cues(text: str) -> str | None:
    """The language whose function words and letters the text has most of, if one leads."""
    folded = text.casefold()
    votes = _word_votes(folded)
    for letter in set(folded):
        language = _CUE_LETTERS.get(letter)
        if language:
            votes[language] = votes.get(language, 0) + 1
    leader = _leader(votes)
    if leader is not None or votes:
        return leader
    # No word or letter of one language alone: the function words several
    # share tell it together ("E i vantaggi?": "e" is Italian or Portuguese,
    # "i" Italian or Catalan). Each shares its vote among its languages.
    shared: dict[str, float] = {}
    for owners, _ in _function_words(folded):
        for language in owners:
            shared[language] = shared.get(language, 0.0) + 1 / len(owners)
    return _leader(shared)


def _by_frame(text: str, detected: str) -> str | None:
    """The language of a short question's frame, its function words, when two
    or more of them name it and none is ``detected``'s: "How do I make crème
    brûlée?" is English whatever letters the dish's name has. A word several
    languages have gives each a share of its vote."""
    votes: dict[str, float] = {}
    voters: dict[str, int] = {}
    for owners, weight in _function_words(text.casefold()):
        for language in owners:
            votes[language] = votes.get(language, 0.0) + weight / len(owners)
            voters[language] = voters.get(language, 0) + 1
    if votes.get(detected):
        return None
    leader = _leader(votes)
    if leader is None or votes[leader] < FRAME_VOTES or voters[leader] < 2:
        return None
    return leader


def _by_whole_frame(text: str) -> str | None:
    """The language of a short question whose function words all are one language's:
    at least ``FRAME_VOTES`` of them, one at least that only it has, no cue of another
    language ("What is omnichannel?", "Was ist Omnichannel?"). The frame
    tells such a question's language; the detector is not asked."""
    if len(WORD.findall(text)) > SHORT_TEXT_WORDS:
        return None
    folded = text.casefold()
    framing = list(_function_words(folded))
    if len(framing) < FRAME_VOTES:
        return None
    shared = set.intersection(*(set(owners) for owners, _ in framing))
    if len(shared) != 1:
        return None
    (language,) = shared
    votes = _word_votes(folded)
    for letter in set(folded):
        owner = _CUE_LETTERS.get(letter)
        if owner:
            votes[owner] = votes.get(owner, 0) + 1
    if set(votes) != {language}:
        return None
    return language


def _word_votes(folded: str) -> dict[str, int]:
    """Votes of the function words and phrases only one language has."""
    votes: dict[str, int] = {}
    for match in _PHRASE.finditer(folded):
        phrase_language = _CUE_PHRASES[match.group()]
        # At the start it is the question word ("O que significa…?").
        opening = not folded[: match.start()].strip(" ¿¡\"'")
        if match.group() in _OPENING_ONLY and not opening:
            continue
        votes[phrase_language] = votes.get(phrase_language, 0) + (2 if opening else 1)
    for owners, weight in _function_words(folded):
        if len(owners) == 1:
            votes[owners[0]] = votes.get(owners[0], 0) + weight
    return votes


# The apostrophes a contraction is written with, and its clitic's longest form ("'s", "'re").
_APOSTROPHES = frozenset("'’ʼ")
MAX_CLITIC = 2


def _function_words(folded: str) -> Iterator[tuple[tuple[str, ...], int]]:
    """Each function word's languages, with its vote: two for the first word, most often
    the question word ("Quem usa click and collect?"), else one."""
    for position, match in enumerate(WORD.finditer(folded)):
        # A clitic after a hyphen ("Spune-mi", "Parle-moi") is not a function word, nor
        # a contraction's after an apostrophe ("geht's", "what's": not Czech "s").
        before = folded[match.start() - 1] if match.start() > 0 else ""
        if before == "-" or (before in _APOSTROPHES and len(match.group()) <= MAX_CLITIC):
            continue
        owners = _FUNCTION_WORD_LANGUAGES.get(match.group())
        if owners:
            yield owners, 2 if position == 0 else 1


def _leader(votes: Mapping[str, float]) -> str | None:
    """The language with the most votes, if no other has as many."""
    ranked = sorted(votes.values(), reverse=True)
    if not ranked or (len(ranked) > 1 and ranked[0] == ranked[1]):
        return None
    return max(votes, key=lambda language: votes[language])


def words(text: str) -> list[str]:
    return WORD.findall(text)
