"""A lexical channel: BM25 over a tokenizer for Latin-script languages and Arabic.

Tokens are NFKC-folded, lower-cased and stripped of diacritics. Arabic words
take the Snowball Arabic stemmer (PyStemmer), which normalises the letters
(alef forms, tashkeel) and removes the article, clitics and suffixes. Other
words keep their first letters, which joins inflections
("omnicanal"/"omnicanais") and the Romance cognates the articles share ("diferencia"/"diferença"/"diferențe").
Numbers and names ("91%", "CRM", "Worten") match exactly.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np
import Stemmer

from kb.text import lexicon
from kb.text.words import ARABIC_SCRIPT, strip_diacritics

STEM = 5

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*%?|[^\W\d_]+", re.UNICODE)
# A word in Arabic letters ends where another script's begin: "الـautolyse" is "ال" and "autolyse".
_SCRIPT_RUN = re.compile(f"[{ARABIC_SCRIPT}]+|[^{ARABIC_SCRIPT}]+")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a]")

# Words that carry no topic: the function words of every language omnikb knows
# but those it indexes, and the stopwords of the languages it tokenizes.
STOPWORDS = lexicon.every("function_words", "stopwords")

# Arabic's vowel marks and the like (tashkeel, Quranic annotation marks) and the
# tatweel that stretches a word: Arabic is mostly written without them. Its letters, to count them by.
_ARABIC_MARKS = re.compile("[\u0640\u064b-\u065f\u0670\u06d6-\u06ed]")
_ARABIC_LETTERS = re.compile("[\u0621-\u063a\u0641-\u064a\u0671-\u06d3]")


def unvowelled(text: str) -> str:
    """``text`` with its Arabic words as Arabic is mostly written, without vowel
    marks or tatweel ("كَمْ يَبْقَى الخُبْزُ" -> "كم يبقى الخبز"); other scripts' accents stay."""
    return _ARABIC_MARKS.sub("", text)


def vowelled_share(text: str) -> float:
    """How many marks (or tatweels) ``text`` has for each of its Arabic letters: about 1
    written throughout with vowels, as a textbook is, 0 as Arabic mostly is."""
    letters = len(_ARABIC_LETTERS.findall(text))
    return len(_ARABIC_MARKS.findall(text)) / letters if letters else 0.0


# A PyStemmer stemmer is not safe to share between threads: one per thread.
_local = threading.local()


def _arabic(token: str) -> str:
    """The Snowball stem of an Arabic word."""
    stemmer = getattr(_local, "arabic", None)
    if stemmer is None:
        stemmer = _local.arabic = Stemmer.Stemmer("arabic")
    return str(stemmer.stemWord(token))


def tokenize(text: str, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Index terms of ``text`` (also used for questions), leaving out the words in ``ignore``."""
    terms: list[str] = []
    # Arabic's vowel marks would split its words (they are no letters).
    found = _TOKEN.findall(unvowelled(unicodedata.normalize("NFKC", text)).casefold())
    for raw in (run for token in found for run in _SCRIPT_RUN.findall(token)):
        if raw in STOPWORDS or raw in ignore:
            continue
        if raw[0].isdigit():
            terms.append(raw.replace(",", "."))
            continue
        if _ARABIC_LETTER.match(raw):
            token = _arabic(raw)
            if len(token) >= 2:
                terms.append(token)
            continue
        token = strip_diacritics(raw)
        if len(token) < 2 or token in STOPWORDS:
            continue
        terms.append(token[:STEM])
    return terms


class BM25:
    """Okapi BM25 over a fixed list of texts."""

    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._docs = [Counter(tokenize(t)) for t in texts]
        self._lengths = np.array([sum(c.values()) for c in self._docs], dtype=np.float64)
        self._avg = float(self._lengths.mean()) if len(self._docs) else 0.0
        df: Counter[str] = Counter()
        for counts in self._docs:
            df.update(counts.keys())
        n = len(self._docs)
        self.idf = {term: math.log(1 + (n - f + 0.5) / (f + 0.5)) for term, f in df.items()}
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, counts in enumerate(self._docs):
            for term, tf in counts.items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        # Postings as arrays: scoring a term is one vectorised update.
        self._postings = {
            term: (np.array(ids, dtype=np.int64), np.array(tfs, dtype=np.float64))
            for term, (ids, tfs) in postings.items()
        }
        self._norm = k1 * (1 - b + b * self._lengths / max(self._avg, 1e-9))

    def __len__(self) -> int:
        return len(self._docs)

    def known(self, terms: Sequence[str]) -> list[str]:
        return [t for t in terms if t in self.idf]

    def common(self, share: float) -> frozenset[str]:
        """The terms more than ``share`` of the texts have: the corpus's own topic."""
        return frozenset(term for term, (ids, _) in self._postings.items() if len(ids) > share * len(self._docs))

    def scores(self, query: str) -> np.ndarray:
        result = np.zeros(len(self._docs), dtype=np.float64)
        for term in set(tokenize(query)):
            posting = self._postings.get(term)
            if posting is None:
                continue
            ids, tfs = posting
            result[ids] += self.idf[term] * tfs * (self.k1 + 1) / (tfs + self._norm[ids])
        return result

    def top(self, query: str, n: int) -> list[tuple[int, float]]:
        scores = self.scores(query)
        if n < len(scores):
            candidates = np.argpartition(-scores, n)[:n]
        else:
            candidates = np.arange(len(scores))
        # Highest score first; ties in passage order, as a full sort would give.
        order = candidates[np.lexsort((candidates, -scores[candidates]))]
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]
