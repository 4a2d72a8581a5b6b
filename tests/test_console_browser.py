"""The protocol console end to end: headless Chromium against the example site under uvicorn.

The site runs in subprocesses (``tests/support/example_site.py``) on a database of its own.
Its model is the loopback OpenAI-compatible server of ``tests/support/fake_provider.py`` in
this process, scripted per test (and slowed down for the stop button); the fallback page runs
a second server on the same database with nothing configured, so the offline demo model
answers.
Every assertion on the page waits for it (Playwright's ``expect``); none measures time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chatkit.types import AssistantMessageItem, UserMessageItem

from chatkit_backend.providers.offline import LABEL
from chatkit_backend.testing import ChatKitClient
from tests.support.browser import needs_chromium, screenshot
from tests.support.example_site import REPO, ExampleSite, Server, example_database, site_environment
from tests.support.fake_provider import FakeProvider

pytestmark = needs_chromium

PASSWORD = "correct-horse-battery"
CREATE_USERS = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

User = get_user_model()
operator = User.objects.create_user("operator", password={PASSWORD!r}, is_staff=True)
operator.user_permissions.add(Permission.objects.get(codename="use_playground"))
User.objects.create_user("staffer", password={PASSWORD!r}, is_staff=True)
User.objects.create_user("alice", password={PASSWORD!r})
"""
PLAYGROUND = "/admin/chatkit_backend/playground/"
SLOW_ANSWER = " ".join(f"word{index}" for index in range(60)) + " THE-END"


# -- the site -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with FakeProvider() as server:
        yield server


@pytest.fixture(autouse=True)
def _provider_reset(provider: FakeProvider) -> Iterator[None]:
    yield
    provider.event_delay = 0.0


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with example_database(tmp_path_factory.mktemp("console-db")) as url:
        yield url


def _start(database: str, tmp_dir: Any, **env: str) -> Iterator[Server]:
    site = ExampleSite(site_environment(database, **env), tmp_dir)
    try:
        yield site.start("uvicorn")
    finally:
        site.stop()


@pytest.fixture(scope="module")
def server(
    database: str, provider: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The example site, its model the fake provider (so tests choose the answers)."""
    tmp_dir = tmp_path_factory.mktemp("console-site")
    site = ExampleSite(site_environment(database), tmp_dir)
    site.manage("migrate", "--noinput", "-v", "0")
    site.manage("shell", "-c", CREATE_USERS)
    yield from _start(
        database,
        tmp_dir,
        LLM_PROVIDER="openai_compatible",
        LLM_BASE_URL=provider.base_url,
        LLM_MODEL="fake-model",
    )


@pytest.fixture(scope="module")
def offline_server(
    server: Server, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The example site as a newcomer runs it: no provider configured, the offline model."""
    yield from _start(database, tmp_path_factory.mktemp("console-offline"))


def api_as(server: Server, username: str) -> ChatKitClient:
    """A protocol client for ``username`` with a JWT from the site's own ``api/token/``."""
    return ChatKitClient(server.bearer_client(username, PASSWORD))


# -- the page -------------------------------------------------------------------------------


def log_in(page: Any, server: Server, username: str) -> None:
    page.goto(f"{server.base_url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.base_url}/admin/")


@pytest.fixture
def page(browser_context: Any) -> Any:
    return browser_context.new_page()


@pytest.fixture
def playground(page: Any, server: Server) -> Any:
    """The operator's Playground, opened from the admin index like a person would."""
    log_in(page, server, "operator")
    page.get_by_role("link", name="Playground", exact=True).click()
    page.wait_for_url(f"{server.base_url}{PLAYGROUND}")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    return page


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def send(page: Any, text: str) -> None:
    """Type a message and press Enter (the keyboard path, no mouse)."""
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")


def messages(page: Any, kind: str) -> Any:
    return page.locator(f'[data-chatkit-console] article[data-type="{kind}"]')


def idle(page: Any) -> None:
    """Wait until no answer streams (the Stop button is disabled again)."""
    expect(page.get_by_role("button", name="Stop")).to_be_disabled()


def current_thread(page: Any) -> str:
    thread_id = page.get_by_label("Thread", exact=True).input_value()
    assert thread_id.startswith("thr_"), thread_id
    return thread_id


def api_requests(page: Any) -> list[Any]:
    """Every request the page sends to the protocol endpoint, as they happen."""
    seen: list[Any] = []
    page.on("request", lambda request: "/chatkit/api" in request.url and seen.append(request))
    return seen


def texts(item: AssistantMessageItem | UserMessageItem) -> str:
    return "".join(part.text for part in item.content)


def stored(api: ChatKitClient, thread_id: str) -> list[Any]:
    return api.list_items(thread_id, order="asc").data


# -- the Playground -------------------------------------------------------------------------


def test_playground_streams_an_answer_and_stores_the_turn(playground, server, provider):
    page = playground
    requests = api_requests(page)
    answer = (
        "Hello from the **fake** model.\n\n"
        "```\nprint('<b>not bold</b>')\n```\n\n"
        "- one\n- two\n\nSee [the docs](https://docs.example.com/chatkit)."
    )
    provider.script(answer)

    send(page, "Hi there, who are you?")

    reply = messages(page, "assistant_message").last
    expect(reply).to_contain_text("Hello from the fake model.")
    expect(reply).to_contain_text("See the docs.")
    idle(page)
    # Rendered as markdown, built from text: bold, a code block holding the tags as text, a
    # list and a link.
    expect(reply.locator("strong")).to_have_text("fake")
    expect(reply.locator("pre code")).to_have_text("print('<b>not bold</b>')")
    expect(reply.locator("b")).to_have_count(0)
    expect(reply.locator("li")).to_have_text(["one", "two"])
    expect(reply.get_by_role("link", name="the docs")).to_have_attribute(
        "href", "https://docs.example.com/chatkit"
    )
    expect(messages(page, "user_message")).to_have_text(re.compile("Hi there, who are you?"))

    # The raw-events pane lists the stream, deltas included, with its timings.
    events = page.locator('[data-ck="events"] > li')
    summaries = events.locator("summary").all_inner_texts()
    kinds = [summary.split()[-1] for summary in summaries]
    assert kinds[0] == "thread.created"
    assert {"thread.item.added", "thread.item.done", "stream_options"} <= set(kinds)
    assert kinds.count("thread.item.updated") > 2  # it streamed, delta by delta
    assert all(re.match(r"\+\d+ ms ", summary) for summary in summaries)
    expect(page.locator('[data-ck="event-count"]')).to_have_text(str(len(summaries)))
    expect(page.locator('[data-ck="timings"]')).to_have_text(
        re.compile(rf"^{len(summaries)} event\(s\); first event after \d+ ms; total \d+ ms\.$")
    )
    # One event's JSON opens from its summary.
    events.first.locator("summary").click()
    expect(events.first.locator("pre")).to_contain_text('"type": "thread.created"')

    # The request went to chatkit/api with the CSRF token, like the widget's.
    assert [request.post_data_json["type"] for request in requests] == ["threads.create"]
    assert requests[0].headers.get("x-csrftoken")

    # The turn is stored, as the protocol's own items.list shows it.
    thread_id = current_thread(page)
    items = stored(api_as(server, "operator"), thread_id)
    assert [item.type for item in items] == ["user_message", "assistant_message"]
    assert texts(items[0]) == "Hi there, who are you?"
    assert texts(items[1]) == answer
    screenshot(page, "playground")

    # The thread is in the picker, and a second message continues it.
    provider.script("Second answer.")
    send(page, "And again")
    expect(messages(page, "assistant_message")).to_have_count(2)
    expect(messages(page, "assistant_message").last).to_have_text(re.compile("Second answer."))
    idle(page)
    assert current_thread(page) == thread_id
    assert len(stored(api_as(server, "operator"), thread_id)) == 4

    # Reloaded, the thread is listed (titled by its first message) and opens from the list.
    page.reload()
    picker = page.get_by_label("Thread", exact=True)
    expect(picker.locator(f'option[value="{thread_id}"]')).to_have_text(
        re.compile("Hi there, who are you?")
    )
    picker.select_option(thread_id)
    expect(messages(page, "assistant_message")).to_have_count(2)
    expect(messages(page, "user_message").first).to_have_text(re.compile("Hi there"))


def test_requests_without_the_csrf_token_get_403_and_the_console_says_so(
    playground, server, provider
):
    page = playground
    requests = api_requests(page)
    before = len(api_as(server, "operator").list_threads(limit=100).data)
    page.evaluate(
        "document.querySelector('[data-chatkit-console]').removeAttribute('data-csrf-token')"
    )

    send(page, "Does this get through?")

    error = page.get_by_role("alert")
    expect(error).to_contain_text("HTTP 403")
    expect(error).to_contain_text("CSRF")
    idle(page)
    assert requests and "x-csrftoken" not in requests[-1].headers
    expect(messages(page, "assistant_message")).to_have_count(0)
    assert len(api_as(server, "operator").list_threads(limit=100).data) == before
    assert not any(
        "Does this get through?" in request.body.decode(errors="replace")
        for request in provider.model_requests()
    )


def test_stop_ends_the_stream_keeps_the_partial_answer_and_the_next_message_works(
    playground, server, provider
):
    page = playground
    provider.event_delay = 0.15
    provider.script(SLOW_ANSWER)
    send(page, "Count slowly, please")

    reply = messages(page, "assistant_message").last
    expect(reply).to_contain_text("word3")
    transcript = page.get_by_role("log")
    expect(transcript).to_have_attribute("aria-busy", "true")  # announced once complete
    page.get_by_role("button", name="Stop").click()

    idle(page)
    expect(page.get_by_role("status")).to_contain_text("Stopped")
    expect(reply).to_contain_text("Stopped: the answer so far is kept.")
    expect(transcript).to_have_attribute("aria-busy", "false")
    partial = reply.locator(".ck-body").inner_text()
    assert "word3" in partial and "THE-END" not in partial
    expect(page.get_by_role("alert")).to_be_hidden()

    # The server stopped too: what it kept of the answer is partial, never the whole text.
    api = api_as(server, "operator")
    thread_id = current_thread(page)
    kept = wait_for_assistant_message(api, thread_id)
    assert "word0" in texts(kept) and "THE-END" not in texts(kept)

    # The next message works, in the same thread.
    provider.event_delay = 0.0
    provider.script("Fine, I stopped.")
    send(page, "Thanks")
    expect(messages(page, "assistant_message").last).to_have_text(re.compile("Fine, I stopped."))
    idle(page)
    items = stored(api, thread_id)
    assert [item.type for item in items] == [
        "user_message",
        "assistant_message",
        "user_message",
        "assistant_message",
    ]
    assert texts(items[-1]) == "Fine, I stopped."

    # Escape stops an answer too, from anywhere in the console.
    provider.event_delay = 0.15
    provider.script(SLOW_ANSWER)
    send(page, "Once more, slowly")
    expect(messages(page, "assistant_message")).to_have_count(3)
    expect(messages(page, "assistant_message").last).to_contain_text("word2")
    page.get_by_label("Message").press("Escape")
    idle(page)
    expect(page.get_by_role("status")).to_contain_text("Stopped")


def wait_for_assistant_message(api: ChatKitClient, thread_id: str) -> AssistantMessageItem:
    """The thread's assistant message, once the server has saved what it had (it does so
    as it notices the stop; this waits for the outcome, it does not time it)."""
    deadline = time.monotonic() + 20
    while True:
        found = [item for item in stored(api, thread_id) if item.type == "assistant_message"]
        if found or time.monotonic() > deadline:
            assert found, "the partial answer was not stored"
            return found[0]
        time.sleep(0.1)


def test_staff_without_the_permission_are_refused(page, server):
    log_in(page, server, "staffer")
    expect(page.get_by_role("link", name="Playground", exact=True)).to_have_count(0)
    response = page.goto(f"{server.base_url}{PLAYGROUND}")
    assert response.status == 403
    expect(page.locator("[data-chatkit-console]")).to_have_count(0)


def test_a_user_who_is_not_staff_is_sent_to_the_login_page(page, server):
    response = page.goto(f"{server.base_url}{PLAYGROUND}")
    assert response.ok
    assert "/admin/login/" in page.url
    expect(page.locator("[data-chatkit-console]")).to_have_count(0)


def test_another_users_thread_id_gets_404_shown_as_an_error(playground, server, provider):
    page = playground
    provider.script("Alice's answer.")
    theirs = api_as(server, "alice").create_thread("Alice's private question").thread_id
    requests = api_requests(page)

    page.get_by_label("or open by id").fill(theirs)
    page.get_by_label("or open by id").press("Enter")

    error = page.get_by_role("alert")
    expect(error).to_contain_text("HTTP 404")
    expect(error).to_contain_text("Not found.")
    expect(page.locator("[data-chatkit-console] article")).to_have_count(0)
    assert "Alice's private question" not in page.content()
    assert requests[-1].post_data_json == {
        "type": "threads.get_by_id",
        "params": {"thread_id": theirs},
    }
    # The console still works: the next message starts a thread of the operator's own.
    provider.script("Your own thread.")
    send(page, "A thread of my own")
    expect(messages(page, "assistant_message")).to_have_text([re.compile("Your own thread.")])
    expect(error).to_be_hidden()
    assert current_thread(page) != theirs


def test_a_file_goes_through_the_direct_upload_endpoint(playground, server, provider):
    page = playground
    requests = api_requests(page)
    page.get_by_label("Attach a file").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"The password is pineapple."}
    )
    attached = page.get_by_role("list", name="Attached files")
    expect(attached).to_contain_text("notes.txt")

    provider.script("The file says pineapple.")
    send(page, "What does the file say?")
    expect(messages(page, "assistant_message").last).to_contain_text("pineapple")
    idle(page)
    expect(attached.locator("li")).to_have_count(0)  # sent with that message

    upload = next(request for request in requests if request.url.endswith("/chatkit/api/upload"))
    assert upload.headers.get("x-csrftoken")
    items = stored(api_as(server, "operator"), current_thread(page))
    assert [attachment.name for attachment in items[0].attachments] == ["notes.txt"]
    assert "pineapple" in provider.model_requests()[-1].body.decode()
    expect(messages(page, "user_message")).to_contain_text("Attached: notes.txt")


def test_a_file_can_be_removed_before_sending(playground, server):
    page = playground
    with page.expect_response(re.compile(r"/chatkit/api/upload$")) as uploaded:
        page.get_by_label("Attach a file").set_input_files(
            {"name": "draft.txt", "mimeType": "text/plain", "buffer": b"not meant to be sent"}
        )
    attachment_id = uploaded.value.json()["id"]
    with page.expect_response(is_op("attachments.delete")) as deleted:
        page.get_by_role("button", name="Remove draft.txt").click()

    expect(page.get_by_role("list", name="Attached files").locator("li")).to_have_count(0)
    expect(page.get_by_label("Message")).to_be_focused()
    assert deleted.value.status == 200
    assert deleted.value.request.post_data_json["params"] == {"attachment_id": attachment_id}
    # Gone from the server: deleting it again finds nothing.
    again = api_as(server, "operator").request("attachments.delete", attachment_id=attachment_id)
    assert again.status == 404


def is_op(op: str) -> Any:
    """A predicate for ``expect_response``: a protocol request of type ``op``."""

    def matches(response: Any) -> bool:
        body = response.request.post_data_json if response.url.endswith("/chatkit/api") else {}
        return (body or {}).get("type") == op

    return matches


def test_an_error_event_is_shown(playground, provider):
    page = playground
    requests = api_requests(page)
    message = page.get_by_label("Message")
    message.fill("Hello?")
    message.press("Shift+Enter")  # a new line, not a send
    message.press_sequentially("Anyone there?")
    expect(message).to_have_value("Hello?\nAnyone there?")
    assert requests == []

    provider.fail_next(401)
    message.press("Enter")
    error = page.get_by_role("alert")
    expect(error).to_contain_text("Error from the server:")
    expect(error).to_contain_text("rejected the API key")
    idle(page)


def test_model_and_user_text_never_become_html(playground, provider):
    page = playground
    provider.script(
        'Look: <img src="x" onerror="window.pwned = 1"> <script>window.pwned = 2</script> '
        "[click me](javascript:window.pwned=3) [fine](https://example.com/a) **done**"
    )
    send(page, '<img src="y" onerror="window.pwned = 4"> <b>hello</b>')
    reply = messages(page, "assistant_message").last
    expect(reply).to_contain_text("done")
    idle(page)

    console = page.locator("[data-chatkit-console] .ck-transcript")
    expect(console.locator("img, script, b")).to_have_count(0)
    expect(reply).to_contain_text('<img src="x" onerror="window.pwned = 1">')
    expect(messages(page, "user_message")).to_contain_text("<b>hello</b>")
    expect(console.locator("a")).to_have_count(1)  # only the http(s) link is a link
    expect(console.locator("a")).to_have_attribute("href", "https://example.com/a")
    expect(reply).to_contain_text("click me")
    assert page.evaluate("window.pwned") is None


# -- the example page's fallback --------------------------------------------------------------


def test_example_page_without_the_cdn_offers_the_console_and_it_streams(page, offline_server):
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(f"{offline_server.base_url}/")

    note = page.locator("#chatkit-load-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("could not be downloaded from OpenAI's CDN")
    assert any(url.startswith("https://cdn.platform.openai.com/") for url in failed)
    console = page.get_by_role("region", name="Chat without the widget")
    expect(console).to_be_visible()
    expect(console.get_by_role("heading", name="Chat without the widget")).to_be_visible()
    # Below the note, in the page's order.
    assert page.evaluate(
        "document.getElementById('chatkit-load-note').compareDocumentPosition("
        "document.querySelector('[data-chatkit-console]')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    expect(console.locator('[data-ck="events-pane"]')).not_to_have_attribute("open", "")

    send(page, "Hello from the fallback")

    reply = messages(page, "assistant_message").last
    expect(reply).to_contain_text('You said: "Hello from the fallback"')
    idle(page)
    expect(reply.locator("strong").first).to_have_text(LABEL.strip("*"))
    screenshot(page, "fallback")
    console.get_by_text("Raw events").click()  # the collapsed pane opens
    expect(page.locator('[data-ck="events"] > li').first).to_be_visible()
    assert page.locator('[data-ck="events"] > li').count() > 3


# A stand-in for chatkit.js that defines the element and reports ready, as the real one does.
WIDGET_STAND_IN = """
customElements.define("openai-chatkit", class extends HTMLElement {
  setOptions() {
    this.textContent = "widget ready";
    this.dispatchEvent(new CustomEvent("chatkit.ready"));
  }
});
"""


def test_example_page_with_a_working_widget_keeps_the_console_hidden(page, offline_server):
    """When the widget loads, the note never shows, so neither does the console, and the
    console sends nothing."""
    requests = api_requests(page)
    page.route(
        "https://cdn.platform.openai.com/**",
        lambda route: route.fulfill(content_type="text/javascript", body=WIDGET_STAND_IN),
    )
    page.goto(f"{offline_server.base_url}/")
    expect(page.locator("openai-chatkit")).to_have_text("widget ready")
    expect(page.locator("#chatkit-load-note")).to_be_hidden()
    expect(page.locator("[data-chatkit-console]")).to_be_hidden()
    assert requests == []


# -- the markdown subset, on its own ----------------------------------------------------------

CONSOLE_JS = REPO / "chatkit_backend" / "static" / "chatkit_backend" / "console.js"
MARKDOWN_CASES = [
    ("plain <b>text</b> & more", "<p>plain &lt;b&gt;text&lt;/b&gt; &amp; more</p>"),
    (
        "**bold** and *it* and _it_ and `co*de*`",
        "<p><strong>bold</strong> and <em>it</em> and <em>it</em> and <code>co*de*</code></p>",
    ),
    ("snake_case_name and 2 * 3 * 4", "<p>snake_case_name and 2 * 3 * 4</p>"),
    ("one\ntwo\n\nthree", "<p>one<br>two</p><p>three</p>"),
    (
        "# Title\n1. a\n2. **b**",
        "<p><strong>Title</strong></p><ol><li>a</li><li><strong>b</strong></li></ol>",
    ),
    ("```js\nalert('<x>')\n```", "<pre><code>alert('&lt;x&gt;')</code></pre>"),
    ("```\nstill streaming", "<pre><code>still streaming</code></pre>"),
    (
        "[a](https://example.com/?q=1&r=2)",
        '<p><a href="https://example.com/?q=1&amp;r=2" rel="noopener noreferrer nofollow" '
        'target="_blank">a</a></p>',
    ),
    (
        "[x](JaVaScRiPt:alert(1)) [y](data:text/html,hi) [z](/relative) [w](//host/path)",
        "<p>x y z w</p>",
    ),
    (
        "[Foo](https://en.wikipedia.org/wiki/Foo_(bar)).",
        '<p><a href="https://en.wikipedia.org/wiki/Foo_(bar)" rel="noopener noreferrer nofollow" '
        'target="_blank">Foo</a>.</p>',
    ),
    (
        '[q](https://e.com/"onmouseover="alert(1))',
        '<p><a href="https://e.com/%22onmouseover=%22alert(1)" rel="noopener noreferrer nofollow" '
        'target="_blank">q</a></p>',
    ),
]


@pytest.mark.parametrize(("markdown", "html"), MARKDOWN_CASES)
def test_markdown_subset_is_built_from_text(browser_context, markdown, html):
    page = browser_context.new_page()
    page.add_script_tag(path=str(CONSOLE_JS))
    rendered = page.evaluate(
        """(text) => {
          const box = document.createElement("div");
          box.appendChild(window.ChatKitConsole.renderMarkdown(text));
          return box.innerHTML;
        }""",
        markdown,
    )
    assert rendered == html
