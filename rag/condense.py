"""Turn a follow-up in a thread into a standalone question, without a language model.

"how do I reset my password?" then "and what about on mobile?": retrieval sees only the second message,
which is about nothing in particular, and the pages that match "mobile" best (offline files) win. This is
the "condense question" step of LangChain's history-aware retrievers, done with rules: the local chat
model is too weak and too slow to rewrite questions on every message.

1. **Is it a follow-up?** It leans on the thread when it opens with a continuation ("and…", "what
   about…", "also…", "oops, what if…"), or refers back ("it", "that", "them", "there", "instead",
   "too"), and in either case has few content words of its own; or when it has at most one content word
   at all ("how many can I pin?"). A question that names its own subject ("how do I export all my
   data?") stands alone, even in a thread, and is left exactly as it was.
2. **The standalone question.** A fragment ("on mobile?", "and on linux?") completes the previous
   question: "how do I reset my password on mobile?". A whole question with a reference in it ("can I
   undo that later?") keeps its words and gains the previous question in brackets, where BM25, the
   embedder and the cross-encoder find the subject again. The previous question's content words alone
   served BM25 as well, but the embedder read "how often can I do that? (request archive data)" as a
   question about rate limits, and the page was lost (a dev conversation of the Mastodon docs).

The previous question is itself condensed first, so a chain of follow-ups keeps its subject. The
answerer ranks a follow-up both as the standalone question and by its own words, and fuses the two
(``rag.answerer``): the own words find a task's next step on another page ("and then how do I get a
user token?") and a new subject that only looked like a follow-up. (An extra ranking vote for the
pages the previous answer cited changed no citation of the dev follow-ups at any weight from 0 to 2;
where it did change the order, it put the thread's page above a new subject's, "also, where do I
download invoices?".)

A new subject that is only a fragment ("and what about refunds?" after a question on camera uploads)
is still read as the old question completed: rules can't tell a new subject from a narrower one.
``bench/follow_ups.py`` measures how often a follow-up's answer cites its page, in its thread and alone
(figures in the README, "Answer quality").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.text import STOPWORDS, TOKEN

# Openings that continue the previous question; removed before a fragment completes it.
OPENER = re.compile(
    r"^(?:(?:and|also|but|so|then|ok(?:ay)?|oops|hmm|plus|or|thanks)\b[\s,;:!.-]*)*"
    r"(?:(?:what|how)\s+about|what\s+if)?\b[\s,]*",
    re.IGNORECASE,
)
CONTINUES = re.compile(
    r"^\s*(?:(?:and|also|but|plus|or|oops|ok(?:ay)?|then)\b|(?:what|how)\s+about\b|what\s+if\b)",
    re.IGNORECASE,
)
# Words that point back at the thread's subject. "there" counts only where it is not "is there".
_REFERS_BACK = (
    "it its that this they them their those these there one ones same instead too either else also again"
)
REFERS_BACK = frozenset(_REFERS_BACK.split())
EXISTENTIAL_THERE = re.compile(r"\b(?:is|are|was|were|isn't|aren't)\s+there\b", re.IGNORECASE)
# Words that carry no subject: STOPWORDS plus question words, auxiliaries, quantities and generic verbs.
_FUNCTION_WORDS = (
    "about above across after again against all also am any anything around at back before behind being "
    "below beside between beyond big both by come did didn does down during except "
    "doesn don each either else enough every get gets getting go going happen happens happened instead "
    "just last later long many may might more most much need needs not now often off ok okay once oops "
    "one ones only onto other out over own per please possible same should some something still such "
    "sure take thing things through too toward under undo until up upon us very via want way well "
    "whether while whole within without yes yet"
)
FUNCTION_WORDS = STOPWORDS | frozenset(_FUNCTION_WORDS.split())
_QUESTION_START = (
    "how what which where when why who whom whose can could do does did is are was were will would "
    "should shall may might must has have had am i"
)
QUESTION_START = frozenset(_QUESTION_START.split())
# Content words a follow-up that continues or refers back may have. At 3, 20 of the 62 dev follow-ups of
# both help centers went unrecognised ("which field tells me if they've blocked me?"), at 5, 9; 20 of the 143
# in-scope standalone dev questions count as follow-ups in a thread ("Can we pay by wire transfer instead
# of card?"). Asked after an unrelated question they still cite their page (20 of 20; first 14 times
# instead of 18), because a condensed question the pages don't answer is answered as asked
# (``rag.answerer``).
MAX_FOLLOW_UP_CONTENT = 5
MAX_ELLIPTIC_CONTENT = 1  # a question with at most this many content words can't name its subject


def content_words(text: str) -> list[str]:
    """The words of ``text`` that could name a subject (not question words, pronouns or generic verbs)."""
    words = TOKEN.findall(text.lower())
    return [w for w in words if len(w) > 1 and w not in FUNCTION_WORDS and not w.isdigit()]


def is_follow_up(question: str) -> bool:
    """Whether ``question`` needs the thread's earlier turns to be understood (see the module doc)."""
    content = len(content_words(question))
    if content <= MAX_ELLIPTIC_CONTENT:
        return True
    words = set(TOKEN.findall(EXISTENTIAL_THERE.sub(" ", question.lower())))
    leans = bool(CONTINUES.match(question)) or bool(words & REFERS_BACK)
    return leans and content <= MAX_FOLLOW_UP_CONTENT


def condense(question: str, earlier: Sequence[str]) -> str | None:
    """``question`` as a standalone question, given the thread's ``earlier`` questions (oldest first);
    None when it stands alone already or there is no thread."""
    parts = _parts(question.strip(), earlier)
    if parts is None:
        return None
    own, context = parts
    return f"{own} ({' '.join(context)})" if context else own


def _parts(question: str, earlier: Sequence[str]) -> tuple[str, tuple[str, ...]] | None:
    """A follow-up as its own words, completed where it is a fragment, and the earlier questions it
    leans on, latest first (kept apart so that a fragment completes words, not brackets)."""
    if not question or not earlier or not is_follow_up(question):
        return None
    previous = earlier[-1].strip()
    own, context = _parts(previous, earlier[:-1]) or (previous, ())
    rest = OPENER.sub("", question, count=1).strip()
    first = TOKEN.findall(rest.lower())[:1]
    if first and first[0] not in QUESTION_START:  # a fragment: "on mobile?", "the local one only?"
        return f"{own.rstrip(' ?.!')} {rest}", context
    return question, (own, *context)
