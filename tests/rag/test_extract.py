"""Main-text extraction on the bundled help center's real page chrome and on hosted help-center markup."""

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from rag.extract import extract
from supportloop.demo_site import SITE_DIR

PAGES = sorted(p for p in SITE_DIR.rglob("*.html") if p.parent.name != "internal")
CHROME = [
    "We use cookies",
    "Was this article helpful",
    "All rights reserved",
    "Skip to content",
    "Popular articles",
    "Follow us",
]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(SITE_DIR)))
def test_site_chrome_is_dropped_and_the_article_kept(page):
    extracted = extract(page.read_text(encoding="utf-8"))
    assert extracted.title
    assert extracted.markdown.startswith("# ")
    for boilerplate in CHROME:
        assert boilerplate not in extracted.markdown


def test_tables_lists_and_code_blocks_survive():
    plans = extract((SITE_DIR / "billing/plans.html").read_text()).markdown
    assert "| Feature | Free | Team | Business | Enterprise |" in plans
    assert "| Version history | 30 days | 90 days | 180 days | 365 days |" in plans
    tokens = extract((SITE_DIR / "developers/api-tokens.html").read_text()).markdown
    assert "```bash\ncurl -s \\\n" in tokens
    assert "1. In the web app, select your avatar > Settings > Developer > Personal access tokens." in tokens
    assert "## Rate limits" in tokens


def test_inline_markup_does_not_add_spaces_and_br_breaks_lines():
    html = "<main><p>Open <b>Settings</b>, then <code>tp</code>.<br>Next line</p></main>"
    assert extract(html).markdown == "Open Settings, then tp.\nNext line"


def test_a_heading_that_is_a_name_in_code_keeps_its_backticks():
    html = (
        "<main><h1>Using the admin CLI</h1><h3><code>tootctl media remove</code></h3>"
        "<p>Removes locally cached copies of media attachments.</p>"
        "<h3><code>noindex</code> <span class='badge'>optional</span></h3><p>Whether to opt out.</p>"
        "<h3>Media <code>CLI</code> commands</h3><p>Commands.</p></main>"
    )
    lines = extract(html).markdown.splitlines()
    assert "### `tootctl media remove`" in lines
    assert "### `noindex` optional" in lines
    assert "### Media `CLI` commands" in lines


def test_a_page_without_text_extracts_to_nothing():
    assert extract("<html><body><nav>Home</nav><footer>© us</footer></body></html>").markdown == ""
    assert extract("").markdown == ""


# --- debris that hosted help centers put inside the article -------------------------------------------------

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "pages"
HOSTED = sorted(FIXTURES.glob("*.html"))
LABELS = ("tip", "note", "warning", "important", "info")


def _hosted(name: str) -> str:
    return extract((FIXTURES / f"{name}.html").read_text(encoding="utf-8")).markdown


def _lines(markdown: str) -> list[str]:
    return [line.strip() for line in markdown.splitlines()]


@pytest.fixture(scope="module", params=HOSTED, ids=lambda p: p.stem)
def hosted(request) -> str:
    return extract(request.param.read_text(encoding="utf-8")).markdown


def test_a_callout_label_never_stands_alone(hosted):
    lines = _lines(hosted)
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        if line.strip(":").lower() in LABELS:  # only as "Tip:" over the list it introduces
            assert line.endswith(":") and following.startswith("- ")
        assert line not in (":::", ":::note", ":::warning")


def test_a_callout_label_is_merged_into_its_text():
    assert "Tip: Use a password manager so that you never have to reset a password again." in _hosted(
        "zendesk"
    )
    assert "Info: Schedules run at 06:00 in the workspace's time zone." in _hosted("document360")
    assert "Tip: Backups of projects over 5 GB can take up to an hour." in _hosted("docusaurus")
    assert "Warning: Changing a role takes effect immediately, even in open editors." in _hosted("gitbook")
    assert "Important: Only one Microsoft 365 account can be connected per user." in _hosted("helpscout")
    mkdocs = _hosted("mkdocs")
    assert "Note: Keys created before 2024 can't be rotated; create a new key instead." in mkdocs
    assert "Warning: Revoking a key stops every request that uses it within a minute." in mkdocs
    assert "Tip:\n- Store keys in your platform's secret manager.\n- Give each service its own key." in mkdocs


@pytest.mark.parametrize(
    ("html", "markdown"),
    [
        (
            "<main><p><b>Note</b> Exports skip archived contacts.</p></main>",
            "Note: Exports skip archived contacts.",
        ),
        (
            "<main><p><b>Note:</b> Exports skip archived contacts.</p></main>",
            "Note: Exports skip archived contacts.",
        ),
        (
            "<main><p>See the <b>Note</b> field on the contact.</p></main>",
            "See the Note field on the contact.",
        ),
    ],
)
def test_a_label_element_opening_a_paragraph_gets_its_colon(html, markdown):
    assert extract(html).markdown == markdown


def test_bylines_and_author_lines_are_dropped(hosted):
    for byline in ("Written by", "Jane Okafor", "Marco Reyes", "Priya Nair", "Sam Lee"):
        assert byline not in hosted


def test_read_time_lines_are_dropped(hosted):
    assert not re.search(r"\bmin(ute)?s? (to )?read\b", hosted, re.IGNORECASE)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(SITE_DIR)))
def test_the_demo_sites_byline_is_dropped(page):
    markdown = extract(page.read_text(encoding="utf-8")).markdown
    assert "Last updated" not in markdown and "min read" not in markdown


def test_updated_and_modified_lines_are_dropped(hosted):
    for meta in ("Updated over a week ago", "Last updated", "Modified on", "Updated on", "ago"):
        assert meta not in hosted


def test_helpful_widgets_are_dropped(hosted):
    assert "helpful" not in hosted
    assert "Did this answer your question" not in hosted
    assert not any(line in ("Yes", "No", "Yes No") for line in _lines(hosted))


def test_a_helpful_widgets_answers_in_their_own_block_go_with_it():
    html = "<main><p>Text.</p><div>Was this article helpful?</div><div><a>Yes</a> <a>No</a></div></main>"
    assert extract(html).markdown == "Text."
    assert extract("<main><p>Can I pay by invoice?</p><p>No.</p></main>").markdown.endswith("No.")


def test_related_articles_and_contents_blocks_are_dropped(hosted):
    for title in ("Related articles", "Related Articles", "Recently viewed", "Articles in this section"):
        assert title not in hosted
    for title in ("Table of contents", "On this page", "Contents"):
        assert title not in _lines(hosted)
    for link in (
        "Sign in with Google",
        "Import contacts from a CSV file",
        "Export a report",
        "Booking pages",
    ):
        assert link not in hosted


def test_a_contents_list_goes_but_the_headings_it_points_to_stay():
    markdown = _hosted("document360")
    assert "- Create a schedule" not in markdown
    assert "## Create a schedule" in markdown and "## Pause a schedule" in markdown


def test_ui_actions_permalinks_breadcrumbs_and_pagers_are_dropped(hosted):
    for line in _lines(hosted):
        assert line not in ("Print", "Copy link", "Share Print Copy link", "Follow", "0 comments")
        assert not line.startswith(("Previous", "Next", "All Collections"))
    assert "¶" not in hosted and "\u200b" not in hosted


def test_numbered_steps_are_whole_in_order_and_never_bare_numbers(hosted):
    assert not re.search(r"^\s*(step\s*)?\d+[.)]?\s*$", hosted, re.IGNORECASE | re.MULTILINE)
    numbers = [int(m) for m in re.findall(r"^(\d+)\. \S", hosted, re.MULTILINE)]
    assert numbers and numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize(
    ("name", "steps"),
    [
        (
            "zendesk",  # one <p> per step, a step with two paragraphs, a screenshot-only step
            "1. Go to the sign-in page and select Forgot password?\n"
            "2. Enter the email address you use for Lumen. We send the link only to addresses that have an"
            " account.\n"
            "3. Open the email from no-reply@lumen.example and select Reset password.\n"
            "4. Type your new password twice and select Save.",
        ),
        (
            "helpscout",  # numbers in their own elements
            "1. Open Settings > Calendars.\n"
            "2. Select Connect calendar and pick your provider.\n"
            "3. Allow Tallyhq to read your free/busy times. We never read event titles or attendees.\n"
            "4. Choose which calendars count as busy and select Save.",
        ),
        (
            "intercom",  # a nested list inside a wrapper of the step
            "1. Open Contacts from the left menu.\n"
            "2. Select Export in the top-right corner.\n"
            "  - Choose All contacts to export everything.\n"
            "  - Choose Current view to export only the filtered list.\n"
            "3. Select Download CSV. The file arrives by email within 10 minutes.",
        ),
        (
            "freshdesk",  # an image with a caption, a nested ordered list
            "3. The Add member dialog\n"
            "4. Type the person's email address and pick a role.\n"
            "  1. Choose Agent for people who answer tickets.\n"
            "  2. Choose Viewer for read-only access.\n"
            "5. Click Send invitation.",
        ),
        (
            "mkdocs",
            "4. Update the key in your deployment:\n```bash\nfernhill secrets set API_KEY=...\n```\n5. Click",
        ),
    ],
)
def test_steps_keep_their_text_on_the_numbers_line(name, steps):
    assert steps in _hosted(name)


def test_an_item_without_text_of_its_own_keeps_its_nested_list():
    html = (
        "<main><ol><li><img src='a.png'><ul><li>Wi-Fi</li><li>Cable</li></ul></li><li>Pair.</li></ol></main>"
    )
    assert extract(html).markdown == "- Wi-Fi\n- Cable\n1. Pair."


def test_a_lone_step_number_paragraph_joins_the_text_after_it():
    html = "<main><p>To pair:</p><span>1</span><p>Hold the button.</p><span>2</span><p>Pick it.</p></main>"
    assert extract(html).markdown == "To pair:\n\n1. Hold the button.\n\n2. Pick it."


def test_the_articles_own_heading_is_the_title_not_a_search_box():
    assert extract((FIXTURES / "helpscout.html").read_text()).title == "Connect your calendar"
    assert extract((FIXTURES / "mkdocs.html").read_text()).title == "Rotate an API key"
    assert _hosted("zendesk").startswith("# Reset your password\n\nIf you forgot your password")


@pytest.mark.parametrize(
    "html",
    [
        "<main><p>Updated March 16, 2026: exports now include tags and the owner's name.</p></main>",
        "<main><p>Note that exports can take up to ten minutes for large workspaces.</p></main>",
        "<main><h3>note</h3><p>The profile's bio.</p></main>",
        '<main><p>For replicas, read more details <a href="/replicas">on this page</a>.</p></main>',
        "<main><div><span>3</span> devices can stay signed in at once.</div></main>",
        "<main><p>Can I pay by invoice?</p><p>No.</p></main>",
        '<main><ul><li><a href="/a">Install</a></li><li><a href="/b">Sign in</a></li></ul></main>',
    ],
)
def test_content_that_looks_like_debris_is_kept(html):
    words = re.findall(r"\w+", BeautifulSoup(html, "html.parser").get_text(" "))
    assert re.findall(r"\w+", extract(html).markdown) == words
