"""Answers composed from the pages' own sentences and steps, with the real MiniLM embedder."""

import pytest

from rag.compose import BRIEF_CHARS, MAX_CHARS, Composer, units_of
from rag.passage import Passage

REFUNDS = Passage(
    id="r",
    text="Billing > Refunds\nAnnual plans can be refunded in full within 30 days of purchase. "
    "Monthly plans are not refunded, but you can cancel within 14 days of renewal. "
    "To ask for a refund, open Settings > Billing and choose Request refund.",
    source="http://help/billing/refunds.html",
    title="Billing",
    heading="Refunds",
    score=0.8,
)
DEVICES = Passage(
    id="d",
    text="FAQ > Devices\nEach account can be signed in on up to 3 devices at once.",
    source="http://help/faq.html",
    title="FAQ",
    heading="Devices",
    score=0.5,
)
RESET = Passage(
    id="p",
    text="Security > Reset your password\nYou can reset a forgotten password from the sign-in page.\n"
    "To reset it:\n1. Open the sign-in page and select Forgot password.\n"
    "2. Enter your email address.\n3. Open the link in the email within 24 hours and choose a new password.\n"
    "The link works once.",
    source="http://help/security/password-reset.html",
    title="Security",
    heading="Reset your password",
    score=0.7,
)

EXPIRY = Passage(
    id="x",
    text="Security > Reset your password\nTo reset a forgotten password:\n"
    "1. Open the sign-in page and select Forgot password under the password field.\n"
    "2. Enter the email address you signed up with and select Send reset link.\n"
    "3. Open the email from us and select the reset link, then enter your new password twice.\n"
    "The reset link expires after 60 minutes, and only the most recent link works.",
    source="http://help/security/password-reset.html",
    title="Security",
    heading="Reset your password",
    score=0.7,
)


@pytest.fixture(scope="module")
def composer(embeddings):
    return Composer(embeddings)


class Counted:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, embeddings) -> None:
        self.embeddings, self.texts = embeddings, []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return self.embeddings.embed_documents(texts)


def test_units_read_for_one_answer_are_not_embedded_again_for_the_next(embeddings):
    """A popular page is quoted for many answers: its units are embedded once (on the demo's questions,
    answering all 76 spent 18 s on the composer's vectors instead of 34 s, and the same answers)."""
    counted = Counted(embeddings)
    composer = Composer(counted)
    first = composer.compose("is a monthly plan refunded", [REFUNDS, DEVICES])
    read = len(counted.texts)
    assert read == 1 + len(units_of([REFUNDS, DEVICES]))  # the question and each unit
    assert composer.compose("is a monthly plan refunded", [REFUNDS, DEVICES]) == first
    assert len(counted.texts) == read  # asked again: nothing embedded
    composer.compose("how many devices can I use", [DEVICES, REFUNDS])
    assert counted.texts[read:] == ["how many devices can I use"]  # a new question over known units
    assert first == Composer(embeddings).compose("is a monthly plan refunded", [REFUNDS, DEVICES])


def test_numbered_steps_are_one_unit_kept_whole_with_their_numbers():
    units = units_of([RESET])
    steps = [u for u in units if u.kind == "steps"]
    assert len(steps) == 1
    assert steps[0].text.splitlines() == [
        "1. Open the sign-in page and select Forgot password.",
        "2. Enter your email address.",
        "3. Open the link in the email within 24 hours and choose a new password.",
    ]
    assert next(u.text for u in units if u.kind == "sentence").startswith("You can reset")


def test_an_answer_quotes_the_best_sentences_of_the_answering_page(composer):
    composition = composer.compose(
        "how long do I have to get my money back on a yearly plan", [REFUNDS, DEVICES]
    )
    assert composition.used == [0]
    assert "within 30 days of purchase" in composition.text
    assert "devices" not in composition.text
    assert len(composition.text) <= MAX_CHARS


def test_the_brief_alternative_is_the_best_sentence_with_its_neighbour_within_its_budget(composer):
    full, brief = composer.alternatives("is a monthly plan refunded", [REFUNDS, DEVICES])[:2]
    assert "Monthly plans are not refunded" in brief.text
    assert "Annual plans can be refunded" in brief.text or "To ask for a refund" in brief.text
    assert len(brief.text) <= BRIEF_CHARS < len(full.text)
    assert full.text.count(".") > brief.text.count(".")


def test_the_brief_alternative_is_brief_as_shown_when_the_best_unit_opens_a_long_run_of_steps(composer):
    # The best unit is "To reset a forgotten password:", which comes with its 240 characters of steps.
    full, brief = composer.alternatives("how do I reset my password", [EXPIRY])[:2]
    assert "1. Open the sign-in page" in full.text
    assert brief.text == "The reset link expires after 60 minutes, and only the most recent link works."
    assert len(brief.text) <= BRIEF_CHARS


def test_a_sentence_that_introduces_steps_is_not_quoted_without_them(composer):
    for answer in composer.alternatives("my password reset link stopped working", [EXPIRY]):
        assert ("To reset a forgotten password:" in answer.text) == (
            "1. Open the sign-in page" in answer.text
        )


def test_the_one_page_alternative_keeps_the_page_the_ranker_put_first(composer):
    # The question's words are closest to the FAQ's sentence; the ranker still put the refunds page first.
    question = "can I get a refund if my account is signed in on 3 devices at once"
    passages = [REFUNDS, DEVICES]
    units = units_of(passages)
    best = units[int(composer.scores(question, passages, units).argmax())]
    assert passages[best.passage] is DEVICES
    one_page = [c for c in composer.alternatives(question, passages) if len(c.used) == 1]
    assert [c.used for c in one_page] == [[0]] and "refund" in one_page[0].text


def test_steps_come_whole_in_order_on_their_own_lines_after_their_intro(composer):
    text = composer.compose("I forgot my password, how do I reset it?", [RESET, DEVICES]).text
    lines = text.splitlines()
    first_step = next(i for i, line in enumerate(lines) if line.startswith("1. "))
    assert lines[first_step : first_step + 3] == [
        "1. Open the sign-in page and select Forgot password.",
        "2. Enter your email address.",
        "3. Open the link in the email within 24 hours and choose a new password.",
    ]
    assert lines[first_step - 1].endswith("To reset it:")


PAYMENT = Passage(
    id="m",
    text="Payment methods > Accepted payment methods\nYou can pay in these ways:\n"
    "- Credit and debit cards from all major card networks. Prepaid cards aren't accepted.\n"
    "- Bank transfer, for annual plans whose yearly invoice comes to $2,500 or more.\n"
    "- Account balance from promotions, used before we charge your card.\n"
    "Payments are taken in US dollars.",
    source="http://help/billing/payment-methods.html",
    title="Payment methods",
    heading="Accepted payment methods",
    score=0.8,
)


def test_a_list_is_quoted_as_a_list_each_item_whole_on_its_own_line(composer):
    units = units_of([PAYMENT])
    assert [u.kind for u in units] == ["sentence", "item", "item", "item", "sentence"]
    assert units[1].text == (
        "- Credit and debit cards from all major card networks. Prepaid cards aren't accepted."
    )
    lines = composer.compose("which ways can I pay, can I pay by bank transfer?", [PAYMENT]).text.splitlines()
    assert "- Bank transfer, for annual plans whose yearly invoice comes to $2,500 or more." in lines
    items = [line for line in lines if line.startswith("- ")]
    assert set(items) <= {u.text for u in units}  # each line an item whole, nothing run on after it
    assert items == sorted(items, key=lambda item: PAYMENT.text.index(item[2:]))  # in the page's order


def _rate_limit(id_: str, heading: str, body: str, score: float) -> Passage:
    title = "Rate limits"
    text = f"{' > '.join([title, heading])}\n{body}" if heading else f"{title}\n{body}"
    return Passage(id_, text, "http://help/api/rate-limits/", title, heading, score)


RATE_LIMITS = [  # as the Mastodon docs split the page, with their scores for the question below
    _rate_limit("a", "", "Defining how often you can call the REST API", 0.70),
    _rate_limit(
        "h",
        "Headers",
        "Rate limit information is returned in the response headers: X-RateLimit-Limit : Number of "
        "requests permitted per time period. X-RateLimit-Remaining : Number of requests you can still "
        "make. An API method can be subject to multiple overlapping rate limits. The headers return "
        "information about the one you are closest to exceeding.",
        0.65,
    ),
    _rate_limit(
        "u",
        "Limits > Per account",
        "All endpoints and methods can be called 300 times within 5 minutes.",
        0.61,
    ),
    _rate_limit(
        "i",
        "Limits > Per IP > Creating accounts",
        "POST /api/v1/accounts can be called 5 times within 30 minutes.",
        0.60,
    ),
]


def test_a_sentence_is_read_under_its_heading(composer):
    # The bare sentence "All endpoints ... 300 times" never says "per account": its heading does.
    composition = composer.compose("What are the general API rate limits per account?", RATE_LIMITS)
    assert "300 times within 5 minutes" in composition.text
    assert 2 in composition.used


def test_a_section_that_documents_a_name_in_code_is_quoted_under_that_name(composer):
    # The sentences of a reference section say what its name does, never the name: the answer shows it.
    media = Passage(
        "m",
        "Using the admin CLI > Media CLI > tootctl media remove\nRemoves locally cached copies of media "
        "attachments from other servers. It is best run on a schedule.",
        "http://help/admin/tootctl/",
        "Using the admin CLI",
        "Media CLI > `tootctl media remove`",
        0.9,
    )
    composition = composer.compose("how do I clear out cached media from other servers?", [media, REFUNDS])
    assert composition.text.startswith("`tootctl media remove`: Removes locally cached copies")
    assert composition.text.count("tootctl media remove") == 1
    # A section too deep for the chunker is a heading line inside the passage: its own name, once.
    limits = Passage(
        "v",
        "Instance > Attributes > configuration[media]\nDescription: Hints for accepted attachments.\n"
        "##### `configuration[media][video_size_limit]`\nDescription: The maximum size of any uploaded "
        "video, in bytes.\nType: Integer",
        "http://help/entities/Instance/",
        "Instance",
        "Attributes > `configuration[media]`",
        0.9,
    )
    video = composer.compose("what is the biggest video file I can upload?", [limits]).text
    assert "`configuration[media][video_size_limit]`: Description: The maximum size of any uploaded" in video
    assert video.count("`configuration[media][video_size_limit]`") == 1
    # A heading in plain words is not repeated: the sentences read on their own.
    plain = composer.compose("how long do I have to get my money back on a yearly plan", [REFUNDS])
    assert not plain.text.startswith("Refunds")


def test_a_run_of_steps_too_long_for_an_answer_keeps_whole_steps(embeddings):
    long_steps = "\n".join(f"{n}. Step number {n} says to do a fairly long thing here." for n in range(1, 30))
    passage = Passage("l", f"Guide > Setup\n{long_steps}", "http://help/setup", "Guide", "Setup", 0.9)
    composer = Composer(embeddings, max_chars=300)
    text = composer.compose("how do I set it up", [passage]).text
    assert len(text) <= 300
    assert text.splitlines()[-1] == "(More steps on the page.)"
    assert all(line.startswith(f"{n}. Step number {n} ") for n, line in enumerate(text.splitlines()[:-1], 1))


def _error_codes(id_: str, body: str, score: float) -> Passage:
    text = f"Fix sync problems > Error codes\n{body}"
    return Passage(
        id_, text, "http://help/sync/troubleshooting.html", "Fix sync problems", "Error codes", score
    )


ERROR_CODES = [  # a table the chunker split in two: the header is in the second passage only
    _error_codes(
        "later",
        "| TP-311 | Your workspace has run out of storage. | Delete files, or add storage. |\n"
        "| TP-512 | Your computer's clock is more than 5 minutes off. | Turn on automatic date and time. |",
        0.7,
    ),
    _error_codes(
        "first",
        "Each sync error has a code.\n| Code | What it means | What to do |\n| --- | --- | --- |\n"
        "| TP-104 | Another program has the file open and locked. | Close the file. |\n"
        "| `TP-207` | The full path is longer than 260 characters (Windows only) "
        "| Shorten folder or file names. |",
        0.6,
    ),
]


def test_a_table_row_is_quoted_on_its_own_line_under_its_column_names(composer):
    """Rows pasted as "| TP-207 | The full path… | Shorten… |" ran on with their neighbours into one line."""
    rows = [u.text for u in units_of(ERROR_CODES) if u.kind == "item"]
    assert rows == [
        "- TP-311 — What it means: Your workspace has run out of storage. What to do: Delete files, or add "
        "storage.",
        "- TP-512 — What it means: Your computer's clock is more than 5 minutes off. What to do: Turn on "
        "automatic date and time.",
        "- TP-104 — What it means: Another program has the file open and locked. What to do: Close the file.",
        "- TP-207 — What it means: The full path is longer than 260 characters (Windows only). What to do: "
        "Shorten folder or file names.",
    ]
    answer = composer.compose("getting error TP-207 on my PC, what does it mean?", ERROR_CODES).text
    assert "|" not in answer and "---" not in answer
    assert rows[3] in answer.splitlines()
