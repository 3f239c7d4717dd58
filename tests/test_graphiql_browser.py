"""GraphiQL in a real browser, its files served by Patchbay itself: no CDN, no internet.

Debian's Chromium (/usr/bin/chromium), driven by Playwright without a downloaded browser,
opens the GraphiQL of the README's run command (`patchbay demo`, no setting at all, a fresh
home directory: the files come from the npm registry into its cache), with every request to
any other address refused, pastes alice's header into the Headers tab, runs updatePrompt and
reads the result pane. A demo that cannot reach the registry shows a page that says so.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import ARTIFACTS, Demo, running_demo, unavailable

try:
    from playwright.sync_api import Browser, Page, Request, sync_playwright
except ImportError:  # pragma: no cover - the test extras install it
    sync_playwright = None  # type: ignore[assignment]

CHROMIUM = Path("/usr/bin/chromium")
# As root and on a closed network: no sandbox, no GPU, nothing that phones home.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
UPDATE_ALICES_PROMPT = """mutation {
  updatePrompt(id: "prm_acme_welcome", input: {description: "Edited in GraphiQL"}) {
    __typename
    ... on UpdatePromptSuccess { prompt { id description updatedBy } }
    ... on Error { code message requestId }
  }
}"""
UPDATE_GLOBEX_PROMPT = """mutation {
  updatePrompt(id: "prm_globex_welcome", input: {title: "Hi"}) {
    __typename
    ... on NotFoundError { resource id }
    ... on Error { code message requestId }
  }
}"""


def _browser_needed() -> None:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    if sync_playwright is None:
        unavailable("playwright is missing: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The plain run command: no PATCHBAY_* setting, a home (and cache) of its own."""
    _browser_needed()
    with running_demo(tmp_path_factory.mktemp("graphiql")) as demo:
        yield demo


@pytest.fixture(scope="module")
def offline_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The same where the npm registry cannot be reached (nothing listens on port 9)."""
    _browser_needed()
    directory = tmp_path_factory.mktemp("graphiql-offline")
    with running_demo(directory, PATCHBAY_GRAPHIQL_REGISTRY="http://127.0.0.1:9") as demo:
        yield demo


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _browser_needed()
    with sync_playwright() as playwright:
        # Playwright's own temporary profile: a fresh --user-data-dir on every launch
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def test_the_plain_run_command_fetched_graphiqls_files(demo: Demo) -> None:
    assert "GraphiQL's files fetched into" in demo.log.read_text()


def test_graphiql_runs_update_prompt_with_alices_header(page: Page, demo: Demo) -> None:
    # given: GraphiQL, every file from Patchbay
    loaded = _open_graphiql(page, demo)
    # when
    request, result = _run(page, UPDATE_ALICES_PROMPT, {"Authorization": f"Bearer {demo.token}"})
    _screenshot(page, "graphiql-update-prompt-success")
    # then
    assert loaded and all(url.startswith(demo.url) for url in loaded), loaded
    assert any("/graphiql/assets/graphiql/graphiql.min.js" in url for url in loaded)
    assert request.headers.get("authorization") == f"Bearer {demo.token}"
    assert "UpdatePromptSuccess" in page.locator(".graphiql-response").inner_text()
    assert result["data"]["updatePrompt"] == {
        "__typename": "UpdatePromptSuccess",
        "prompt": {
            "id": "prm_acme_welcome",
            "description": "Edited in GraphiQL",
            "updatedBy": "alice",
        },
    }


def test_graphiql_shows_an_error_member(page: Page, demo: Demo) -> None:
    # given
    _open_graphiql(page, demo)
    # when: alice (acme) asks for globex's prompt
    _, result = _run(page, UPDATE_GLOBEX_PROMPT, {"Authorization": f"Bearer {demo.token}"})
    _screenshot(page, "graphiql-update-prompt-not-found")
    # then
    assert "NotFoundError" in page.locator(".graphiql-response").inner_text()
    answer = result["data"]["updatePrompt"]
    assert answer["__typename"] == "NotFoundError"
    assert answer["code"] == "NOT_FOUND"
    assert answer["resource"] == "prompt"
    assert answer["id"] == "prm_globex_welcome"
    assert answer["requestId"]


def test_without_the_registry_the_page_says_what_to_set(page: Page, offline_demo: Demo) -> None:
    # given: the demo could not fetch GraphiQL's files, and said so in one line
    assert "GraphiQL's files could not be fetched" in offline_demo.log.read_text()
    # when
    loaded = _offline(page, offline_demo)
    page.goto(f"{offline_demo.url}/")  # the root leads to GraphiQL's address
    _screenshot(page, "graphiql-files-unavailable")
    # then: words, the settings' names, nothing loading forever
    text = page.locator("body").inner_text()
    assert page.url == f"{offline_demo.url}/graphql"
    assert "GraphiQL's files are not available" in text
    assert "PATCHBAY_GRAPHIQL_ASSETS" in text
    assert "PATCHBAY_GRAPHIQL_REGISTRY" in text
    assert "Loading" not in text
    assert all(url.startswith(offline_demo.url) for url in loaded), loaded


def _offline(page: Page, demo: Demo) -> list[str]:
    """Every request the page makes, and any to another address refused: no CDN, no internet."""
    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url))
    page.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(demo.url) else route.abort()
        ),
    )
    return loaded


def _open_graphiql(page: Page, demo: Demo) -> list[str]:
    loaded = _offline(page, demo)
    page.goto(f"{demo.url}/graphql")
    page.locator(".graphiql-query-editor .CodeMirror").wait_for()
    return loaded


def _run(page: Page, document: str, headers: dict[str, str]) -> tuple[Request, dict[str, Any]]:
    """Type the document and headers as a person would, run it, read the result pane."""
    _replace_text(page, ".graphiql-query-editor .CodeMirror", document)
    page.locator(".graphiql-editor-tools [data-name='headers']").click()
    _replace_text(page, HEADERS_EDITOR, json.dumps(headers))
    with page.expect_request(_is_update_prompt) as sent:
        page.locator(".graphiql-execute-button").click()
    pane = page.locator(".graphiql-response")
    pane.filter(has_text='"updatePrompt"').wait_for()
    text = pane.locator(".CodeMirror").evaluate("element => element.CodeMirror.getValue()")
    return sent.value, json.loads(text)


def _is_update_prompt(request: Request) -> bool:
    return request.method == "POST" and "updatePrompt" in (request.post_data or "")


def _replace_text(page: Page, editor: str, text: str) -> None:
    page.locator(editor).click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)  # as a paste: no auto-closed brackets


def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png")
