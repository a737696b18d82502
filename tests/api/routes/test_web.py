"""The web chat page in a real headless Chromium (Debian ``chromium``) driven by Playwright."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from rag.engine import Engine
from tests.api.conftest import QUESTION, Serve

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def ask(page: Page, question: str) -> None:
    page.fill("#question", question)
    page.click("#send")


def test_ask_stream_and_open_a_citation(page: Page, serve: Serve, seeded: Engine) -> None:
    with serve() as running:
        page.goto(running.url)
        ask(page, QUESTION)
        answer = page.locator(".msg.assistant").last
        expect(answer.locator("button.cite").first).to_be_visible(timeout=30_000)
        expect(answer).to_contain_text("satellite imagery")
        markers = answer.locator("button.cite")
        assert markers.count() >= 2
        assert re.fullmatch(r"\[1\]", markers.first.inner_text())

        markers.first.click()
        detail = page.locator("#detail")
        expect(detail).to_be_visible()
        expect(detail).to_contain_text("Business Insider")
        expect(detail).to_contain_text("2024-04-09")
        expect(detail).to_contain_text("China is providing satellite intelligence")  # the title
        expect(detail.locator("blockquote")).to_contain_text("geospatial satellite imagery")
        expect(page.locator("#sources .source")).to_have_count(markers.count())

        # A follow-up continues the same conversation, which survives a reload.
        ask(page, "And what about Starlink?")
        second = page.locator(".msg.assistant").nth(1)
        expect(second.locator("button.cite").first).to_be_visible(timeout=30_000)
        expect(second).to_contain_text("Starlink")
        page.reload()
        expect(page.locator(".msg.user")).to_have_text([QUESTION, "And what about Starlink?"])


def test_the_page_works_with_an_api_key(page: Page, serve: Serve, seeded: Engine) -> None:
    with serve(api_keys=["s3cret"]) as running:
        page.goto(running.url)
        ask(page, QUESTION)
        expect(page.locator(".msg.error")).to_contain_text("API key", timeout=30_000)
        page.fill("#api-key", "s3cret")
        page.dispatch_event("#api-key", "change")
        ask(page, QUESTION)
        expect(page.locator(".msg.assistant button.cite").first).to_be_visible(timeout=30_000)


def test_check_a_text_highlights_each_sentence_by_verdict(page: Page, serve: Serve, seeded: Engine) -> None:
    with serve() as running:
        page.goto(running.url)
        page.click("#tab-check")
        page.fill(
            "#draft",
            "China is providing Russia with geospatial satellite imagery for military use. "
            "China has sent Russia fighter jets.",
        )
        page.click("#check-run")
        checked = page.locator("#checked span[data-verdict]")
        expect(checked).to_have_count(2, timeout=30_000)
        expect(checked.first).to_have_attribute("data-verdict", "supported")
        assert checked.nth(1).get_attribute("data-verdict") != "supported"
        expect(page.locator("#check-counts")).to_contain_text("1 supported")
        checked.first.click()
        expect(page.locator("#detail blockquote").first).to_contain_text("geospatial satellite imagery")
        expect(page.locator("#detail")).to_contain_text("Business Insider")


def test_check_a_text_marks_each_sentence_exactly_emoji_and_questions_included(
    page: Page, serve: Serve, seeded: Engine
) -> None:
    """The API's offsets count characters; an emoji is two of JavaScript's units. A sentence
    left unchecked (a question) is shown as such, not as plain text."""
    supported = "China is providing Russia with geospatial satellite imagery for military use."
    with serve() as running:
        page.goto(running.url)
        page.click("#tab-check")
        page.fill("#draft", f"🇺🇦😀 Update 🚀🚀: {supported} China has sent Russia fighter jets. Is it true?")
        page.click("#check-run")
        checked = page.locator("#checked span[data-verdict]")
        expect(checked).to_have_count(3, timeout=30_000)
        assert checked.nth(1).inner_text() == "China has sent Russia fighter jets."
        assert checked.first.inner_text().endswith("for military use.")
        expect(checked.nth(2)).to_have_attribute("data-verdict", "not-checked")
        expect(page.locator("#check-counts")).to_contain_text("1 not checked")


def test_an_answer_cut_off_mid_stream_is_an_error_not_an_answer(
    page: Page, serve: Serve, seeded: Engine
) -> None:
    cut = 'event: delta\ndata: {"text": "China is providing Russia with"}\n\n'  # then the connection ends
    with serve() as running:
        page.route(
            "**/v1/chat",
            lambda route: route.fulfill(status=200, content_type="text/event-stream", body=cut),
        )
        page.goto(running.url)
        ask(page, QUESTION)
        answer = page.locator(".msg").last
        expect(answer).to_have_class(re.compile(r"\berror\b"), timeout=30_000)
        expect(answer).to_contain_text("closed before the answer was complete")
