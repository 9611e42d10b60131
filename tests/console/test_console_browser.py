"""The console in a real browser (Debian's Chromium via Playwright): log in, open every page, queue a
re-index and watch it finish, roll back a model version. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import re

import pytest
from browser import ARTIFACTS, CHROMIUM_ARGS, chromium_path
from helpers import record_answer
from playwright.sync_api import expect, sync_playwright

from rag.ingest import ingest_site

pytestmark = pytest.mark.slow  # a browser, the embedder and a crawl: about half a minute

SHOTS = ARTIFACTS / "console"
PAGES = {
    "Conversations": "Conversations",
    "Knowledge gaps": "Knowledge gaps: pages to write",
    "Escalations": "Escalations: people asked for a person",
    "Model versions": "Model versions",
    "Jobs": "Jobs",
    "Settings": "Settings",
}


def test_an_admin_works_through_the_console(deployment, site_url, console_url, admin_token):
    ingest_site([site_url + "/billing/refunds.html"], deployment.index, deployment.settings)
    for question in ["How do I turn on dark mode?", "Is there a dark theme for the app?"]:
        record_answer(deployment.records, question=question, answer="I can't find that.", declined=True)
    refund = record_answer(deployment.records, question="Can I get a refund after <b>40</b> days?")
    deployment.records.vote(refund, "u1", -1, reason="It ignored my 40 days")
    deployment.worker.start()
    expect.set_options(timeout=20_000)  # the first page that clusters gaps loads the embedder
    SHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            assert page.goto(console_url + "/").status == 401
            page.fill("input[name=token]", admin_token)
            page.click("button:text-is('Log in')")

            # The home page answers the two first questions: the top gap and the last 👎 reason.
            expect(page.locator("#top-gap")).to_contain_text("dark")
            expect(page.locator("#top-gap")).to_contain_text("2 unhelped questions")
            expect(page.locator("#last-downvote")).to_contain_text("It ignored my 40 days")
            page.screenshot(path=str(SHOTS / "home.png"))

            for link, heading in PAGES.items():
                page.click(f"nav >> text={link}")
                expect(page.locator("h1")).to_have_text(heading)
                page.screenshot(path=str(SHOTS / f"{link.lower().replace(' ', '-')}.png"), full_page=True)

            page.click("nav >> text=Conversations")
            page.select_option("select[name=vote]", "down")
            page.click("text=Filter")
            expect(page.locator("td.question")).to_have_text(["Can I get a refund after <b>40</b> days?"])

            page.click("nav >> text=Jobs")
            page.click("text=Queue reindex")
            expect(page.locator("[role=status]")).to_contain_text("Queued job #")
            finished = page.locator("tr.job-succeeded", has_text="reindex")
            expect(finished).to_be_visible(timeout=60_000)  # the page refreshes itself while a job runs
            expect(finished).to_contain_text(re.compile(r"\d+ pages, 0 changed, 0 removed, 0 failed"))
            page.screenshot(path=str(SHOTS / "jobs-finished.png"), full_page=True)

            page.click("nav >> text=Model versions")
            page.click("text=Roll back to 0")
            expect(page.locator("[role=status]")).to_have_text("Now serving model version 0 (was 1).")
            expect(page.locator("tr.current")).to_contain_text(re.compile(r"^\s*0 serving"))
            page.screenshot(path=str(SHOTS / "models-rolled-back.png"), full_page=True)
            assert deployment.registry.current_id() == 0

            with page.expect_navigation():
                page.click("text=audit-1.html")
            expect(page.locator("h1")).to_have_text("Audit of version 1")
            expect(page.locator("h1")).to_have_css("color", "rgb(1, 2, 3)")  # its styles and plots show
            assert page.locator("img").evaluate("img => img.complete && img.naturalWidth") == 1

            page.goto(console_url + "/")
            page.click("text=Log out")
            assert page.goto(console_url + "/jobs").status == 401
        finally:
            browser.close()
