"""The console over real HTTP: nothing without a session, CSRF on every POST, escaping, login limits."""

from __future__ import annotations

import asyncio
import re
import socket

import httpx
import pytest
from helpers import record_answer
from pydantic import SecretStr

from bots.replies import Origin
from core.errors import SupportLoopError
from core.escalations import Escalations
from supportloop.console.auth import MAX_FAILURES
from supportloop.serve import console_server

PAGES = [
    "/",
    "/conversations",
    "/gaps",
    "/escalations",
    "/models",
    "/jobs",
    "/settings",
    "/reports/audit-1.html",
]
POSTS = ["/jobs", "/models/0/activate", "/escalations/1/take", "/escalations/1/close", "/logout"]


def logged_in(url: str, token: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/login", data={"token": token})
    assert response.status_code == 303 and response.headers["location"] == "/"
    page = client.get("/settings")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text[:500]
    return client, csrf.group(1)


def test_without_a_session_pages_answer_401_and_posts_403(deployment, console_url, admin_token):
    url = console_url
    answer = record_answer(deployment.records, platform="slack", channel="C1", thread="1600000000.000001")
    Escalations(deployment.db).claim(answer, "asker", None, None)
    for path in PAGES:
        response = httpx.get(url + path)
        assert response.status_code == 401, path
        assert 'name="token"' in response.text  # the login form
        assert "Audit of version 1" not in response.text
    for path in POSTS:
        assert httpx.post(url + path, data={"kind": "reindex", "csrf": "x"}).status_code == 403, path
    assert httpx.get(url + "/login").status_code == 200
    assert deployment.jobs.recent() == []
    assert deployment.registry.current_id() == 1
    assert [e.status for e in deployment.admin.escalations("open")] == ["open"]


def test_settings_are_shown_with_secrets_masked(deployment, console_url, admin_token):
    client, _ = logged_in(console_url, admin_token)
    page = client.get("/settings").text
    assert "SUPPORTLOOP_CONSOLE_PORT" in page and "SUPPORTLOOP_ADMIN_TOKEN" in page
    assert admin_token not in page
    assert "supportloop" not in page.split("SUPPORTLOOP_USER_HASH_KEY", 1)[1].split("</tr>", 1)[0]


def test_the_session_cookie_is_httponly_strict_and_secure_behind_https(deployment, console_url, admin_token):
    url = console_url
    plain = httpx.post(url + "/login", data={"token": admin_token}).headers["set-cookie"].lower()
    assert "httponly" in plain and "samesite=strict" in plain and "secure" not in plain
    proxied = httpx.post(url + "/login", data={"token": admin_token}, headers={"X-Forwarded-Proto": "https"})
    assert "; secure" in proxied.headers["set-cookie"].lower()


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(deployment, console_url, admin_token):
    url = console_url
    client, csrf = logged_in(url, admin_token)
    assert client.post("/models/0/activate").status_code == 403
    assert client.post("/models/0/activate", data={"csrf": "forged"}).status_code == 403
    assert client.post("/jobs", data={"kind": "reindex"}).status_code == 403
    assert deployment.registry.current_id() == 1 and deployment.jobs.recent() == []
    # With it, the same rollback goes through.
    response = client.post("/models/0/activate", data={"csrf": csrf})
    assert response.status_code == 303
    assert deployment.registry.current_id() == 0
    assert "Now serving model version 0 (was 1)." in client.get(response.headers["location"]).text


def test_a_script_in_a_question_is_shown_escaped_and_personal_data_redacted(
    deployment, console_url, admin_token
):
    answer = record_answer(
        deployment.records,
        question='<script>alert("x")</script> my mail is jane@example.com',
        answer="<b>bold?</b>",
        platform="slack",
    )
    deployment.records.vote(answer, "u1", -1, reason="<img src=x onerror=alert(1)>")
    url = console_url
    client, _ = logged_in(url, admin_token)
    page = client.get("/conversations", params={"vote": "down"}).text
    assert "&lt;script&gt;alert(" in page and "<script>" not in page
    assert "&lt;img src=x" in page and "<img" not in page
    assert "jane@example.com" not in page and "[email]" in page
    assert "&lt;b&gt;bold?&lt;/b&gt;" in page


def test_a_follow_up_shows_what_it_was_answered_as(deployment, console_url, admin_token):
    condensed = "and on the app? (How do I turn off notifications? <b>mail</b> jane@example.com)"
    record_answer(deployment.records, question="and on the app?", condensed=condensed)
    client, _ = logged_in(console_url, admin_token)
    page = client.get("/conversations").text
    shown = "answered as: and on the app? (How do I turn off notifications? &lt;b&gt;mail&lt;/b&gt; [email])"
    assert shown in page


def test_a_chat_downvote_reason_is_stored_and_shown_without_the_users_contact_details(
    deployment, console_url, admin_token
):
    """A 👎 from Slack with a typed reason, then the reason modal's note: both reach the database
    redacted (read back with raw SQL) and the console shows the redacted text."""
    answer = record_answer(deployment.records, question="Can I pause my plan?", platform="slack")
    voter = Origin("slack", "U_BOB", "C1")
    deployment.conversations.vote(answer, voter, -1, "wrong, write to bob@example.org")
    with deployment.db.engine.connect() as conn:
        [stored] = conn.exec_driver_sql("SELECT reason FROM feedback").scalars()
    assert stored == "wrong, write to [email]"
    deployment.conversations.give_reason(answer, voter, "call me on +44 20 7946 0958 or bob@example.org")
    with deployment.db.engine.connect() as conn:
        [stored] = conn.exec_driver_sql("SELECT reason FROM feedback").scalars()
    assert stored == "call me on [phone] or [email]"
    client, _ = logged_in(console_url, admin_token)
    page = client.get("/conversations", params={"vote": "down"}).text
    assert "call me on [phone] or [email]" in page
    assert "bob@example.org" not in page and "7946" not in page


def test_open_escalations_are_listed_and_taking_one_records_who_took_it(deployment, console_url, admin_token):
    question = "Can a person help me move my plan? mail me at jane@example.com"
    answer = record_answer(
        deployment.records,
        question=question,
        answer="I can't find that in the help pages.",
        declined=True,
        platform="slack",
        channel="C1",
        thread="1600000000.000001",
    )
    claim = Escalations(deployment.db).claim(answer, "asker-hash", None, None)
    assert claim is not None
    client, csrf = logged_in(console_url, admin_token)
    page = client.get("/escalations").text
    open_table = page.split('class="escalations-open"', 1)[1].split("</table>", 1)[0]
    assert "Can a person help me move my plan?" in open_table and "[email]" in open_table
    assert "jane@example.com" not in page
    assert "slack · channel C1 · thread 1600000000.000001" in open_table
    assert f'action="/escalations/{claim.id}/take"' in open_table

    assert client.post(f"/escalations/{claim.id}/take").status_code == 403  # no CSRF token: nothing changes
    assert [e.status for e in deployment.admin.escalations("open")] == ["open"]
    taken = client.post(f"/escalations/{claim.id}/take", data={"csrf": csrf, "name": "  Ana   Ruiz "})
    assert taken.status_code == 303
    assert "It&#39;s yours" in client.get(taken.headers["location"]).text
    [row] = deployment.admin.escalations("taken")
    assert (row.id, row.taken_by, row.taken_at is not None) == (claim.id, "Ana Ruiz", True)
    assert deployment.admin.escalations("open") == []
    page = client.get("/escalations").text
    taken_table = page.split('class="escalations-taken"', 1)[1].split("</table>", 1)[0]
    assert "Can a person help me move my plan?" in taken_table and "Ana Ruiz" in taken_table
    again = client.post(f"/escalations/{claim.id}/take", data={"csrf": csrf})  # a second admin, too late
    assert deployment.admin.escalations("taken")[0].taken_by == "Ana Ruiz"
    assert "Someone took that one already." in client.get(again.headers["location"]).text
    client.post(f"/escalations/{claim.id}/close", data={"csrf": csrf})
    assert deployment.admin.escalations("taken") == [] and deployment.admin.escalations("closed")


def test_conversations_filter_by_vote_platform_and_date(deployment, console_url, admin_token):
    liked = record_answer(deployment.records, question="How do I export my data?", platform="slack")
    record_answer(deployment.records, question="Where is the dark mode switch?", platform="discord")
    deployment.records.vote(liked, "u1", 1)
    url = console_url
    client, _ = logged_in(url, admin_token)
    assert "export my data" in client.get("/conversations", params={"vote": "up"}).text
    assert "dark mode" not in client.get("/conversations", params={"vote": "up"}).text
    discord = client.get("/conversations", params={"platform": "discord"}).text
    assert "dark mode" in discord and "export my data" not in discord
    old = client.get("/conversations", params={"until": "2001-01-01"}).text
    assert "No conversations match." in old


def test_wrong_tokens_are_rate_limited_even_when_the_right_one_follows(deployment, console_url, admin_token):
    url = console_url
    for _ in range(MAX_FAILURES):
        assert httpx.post(url + "/login", data={"token": "guess"}).status_code == 401
    limited = httpx.post(url + "/login", data={"token": admin_token})
    assert limited.status_code == 429 and "set-cookie" not in limited.headers
    assert "Too many wrong tokens" in limited.text


@pytest.mark.parametrize(
    "path", ["/reports/..%2Fdb.sqlite", "/reports/missing.html", "/reports/.hidden.html"]
)
def test_only_report_files_are_served(deployment, console_url, admin_token, path):
    url = console_url
    client, _ = logged_in(url, admin_token)
    assert client.get(path).status_code == 404
    assert "Audit of version 1" in client.get("/reports/audit-1.html").text


def test_without_an_admin_token_serve_has_no_console(deployment):

    async def check() -> int | None:
        async with console_server(deployment.admin, deployment.settings, print) as port:
            return port

    assert asyncio.run(check()) is None


def test_a_taken_console_port_is_one_line_saying_which_setting_to_change(deployment):

    with socket.create_server(("127.0.0.1", 0)) as taken:
        settings = deployment.settings.model_copy(
            update={"admin_token": SecretStr("t"), "console_port": taken.getsockname()[1]}
        )

        async def start() -> None:
            async with console_server(deployment.admin, settings, print):
                pass

        with pytest.raises(SupportLoopError, match="set SUPPORTLOOP_CONSOLE_PORT to a free port"):
            asyncio.run(start())
