"""Words and sentences, shared by BM25, the grounding check and the injection filter."""

from __future__ import annotations

import re
import threading

import Stemmer

TOKEN = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
_STOPWORD_LIST = (
    "a an and are as at be but by can could do does for from had has have how i if in into is it its "
    "me my of on or our so than that the their them then there these they this to was we were what "
    "when where which who why will with would you your"
)
STOPWORDS = frozenset(_STOPWORD_LIST.split())


def tokens(text: str) -> list[str]:
    """Lower-case words without stop words, with a plural ``s`` dropped so "posts" matches "post"."""
    words = TOKEN.findall(text.lower())
    return [
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        for w in words
        if w not in STOPWORDS
    ]


_stemmers = threading.local()  # a PyStemmer object must not be shared between threads


def terms(text: str) -> list[str]:
    """Lower-case words without stop words, as Snowball stems: "uploading", "uploads", "upload" match.

    Ranking (BM25, the choice of sentences for an extractive answer) matches on stems; the grounding
    check keeps whole words, where "encrypted" and "encryption" must not count as the same claim.
    """
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return stemmer.stemWords([w for w in TOKEN.findall(text.lower()) if w not in STOPWORDS])


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(`*])|\n+")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
MARKUP = re.compile(r"^\s*(?:[-*+]|\d+\.|#+|>)\s+|\*\*|`")


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of ``text``, without Markdown bullets, emphasis or the breadcrumb line."""
    pieces = (MARKUP.sub("", piece).strip() for piece in SENTENCE_END.split(text))
    return [piece for piece in pieces if piece and not set(piece) <= set("|-: ")]
