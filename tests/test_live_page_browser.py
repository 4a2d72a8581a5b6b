"""The example page's live socket code (chatkit_backend/static/chatkit_backend/live.js) in
headless Chromium, against the example site under uvicorn (HTTP and ``chatkit/ws``).

The CDN widget cannot load here: a stub ``<openai-chatkit>`` stands in for it and records
what the page asks of it (``fetchUpdates()``, ``setOptions()``). Changes are made through
the protocol with the page's own session, as another tab would make them. Every assertion
waits for the page (Playwright's ``expect`` or a polled condition); none measures time.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.admin.utils import quote

from tests.support.browser import needs_chromium
from tests.support.example_site import ExampleSite, Server, example_database, site_environment

pytestmark = needs_chromium

STUB_WIDGET = """
window.fetchUpdatesCalls = 0;
window.setOptionsCalls = 0;
customElements.define("openai-chatkit", class extends HTMLElement {
  setOptions(options) {
    window.setOptionsCalls += 1;
    this.dispatchEvent(new CustomEvent("chatkit.ready"));
  }
  fetchUpdates() {
    window.fetchUpdatesCalls += 1;
    return Promise.resolve();
  }
});
"""

# Records every socket the page opens; with window.refuseSockets set, they go nowhere.
SOCKET_SPY = """
(() => {
  const Real = window.WebSocket;
  window.sockets = [];
  window.socketAttempts = [];
  function Spy(url, protocols) {
    window.socketAttempts.push(performance.now());
    const socket = new Real(window.refuseSockets ? "ws://127.0.0.1:9/" : url, protocols);
    window.sockets.push(socket);
    return socket;
  }
  window.sentFrames = [];
  const send = Real.prototype.send;
  Real.prototype.send = function (data) {
    window.sentFrames.push(data);
    return send.call(this, data);
  };
  Spy.prototype = Real.prototype;
  Object.assign(Spy, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Spy;
})();
"""

# Another tab of the same user: a streaming request with the page's session and CSRF token.
SEND = """
async ([op, params]) => {
  const response = await window.chatkitFetch("/chatkit/api", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ type: op, params }),
  });
  const text = await response.text();
  for (const line of text.split("\\n")) {
    if (!line.startsWith("data: ")) continue;
    const event = JSON.parse(line.slice(6));
    if (event.type === "thread.created") return event.thread.id;
  }
  return null;
}
"""


PASSWORD = "correct-horse-battery"
OPERATOR = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

olga = get_user_model().objects.create_user("olga", password={PASSWORD!r}, is_staff=True)
olga.user_permissions.add(*Permission.objects.filter(codename__in=["reply_thread", "view_thread"]))
"""


def message(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The example site as a newcomer runs it (DEBUG: logged in as the demo user)."""
    tmp_dir = tmp_path_factory.mktemp("live-page")
    with example_database(tmp_dir) as database_url:
        site = ExampleSite(site_environment(database_url), tmp_dir)
        try:
            site.manage("migrate", "--noinput", "-v", "0")
            site.manage("shell", "-c", OPERATOR)
            yield site.start("uvicorn")
        finally:
            site.stop()


@pytest.fixture
def page(browser_context: Any, server: Server) -> Any:
    page = browser_context.new_page()
    page.add_init_script(SOCKET_SPY)
    page.route(
        "https://cdn.platform.openai.com/**",
        lambda route: route.fulfill(content_type="text/javascript", body=STUB_WIDGET),
    )
    page.goto(f"{server.base_url}/")
    return page


def wait_for(page: Any, condition: str, timeout: float = 15_000) -> None:
    page.wait_for_function(condition, timeout=timeout)


def show_thread(page: Any, thread_id: str) -> None:
    """What the widget does when it shows a thread: it emits chatkit.thread.change."""
    page.evaluate(
        "(id) => document.querySelector('openai-chatkit').dispatchEvent("
        "new CustomEvent('chatkit.thread.change', { detail: { threadId: id } }))",
        thread_id,
    )


def widget_event(page: Any, name: str) -> None:
    page.evaluate(
        "(name) => document.querySelector('openai-chatkit').dispatchEvent(new CustomEvent(name))",
        name,
    )


def test_the_indicator_says_live_once_the_socket_is_ready(page):
    from playwright.sync_api import expect

    indicator = page.locator("#chatkit-live")
    expect(indicator).to_have_text("live")
    expect(indicator).to_have_attribute("data-state", "connected")


def test_a_change_to_the_thread_on_screen_calls_fetch_updates(page):
    from playwright.sync_api import expect

    expect(page.locator("#chatkit-live")).to_have_text("live")
    thread_id = page.evaluate(SEND, ["threads.create", {"input": message("Hello")}])
    assert thread_id
    show_thread(page, thread_id)
    page.evaluate("window.fetchUpdatesCalls = 0")

    # Another tab adds a message: the page asks the widget to fetch the thread's updates.
    page.evaluate(
        SEND, ["threads.add_user_message", {"thread_id": thread_id, "input": message("More")}]
    )
    wait_for(page, "window.fetchUpdatesCalls > 0")

    # While the widget streams an answer itself, the update waits for the answer's end.
    widget_event(page, "chatkit.response.start")
    page.evaluate("window.fetchUpdatesCalls = 0")
    page.evaluate(
        SEND, ["threads.add_user_message", {"thread_id": thread_id, "input": message("Again")}]
    )
    page.wait_for_timeout(500)  # let the notices arrive
    assert page.evaluate("window.fetchUpdatesCalls") == 0
    widget_event(page, "chatkit.response.end")
    wait_for(page, "window.fetchUpdatesCalls === 1")


def test_a_change_to_another_thread_refreshes_the_history(page):
    from playwright.sync_api import expect

    expect(page.locator("#chatkit-live")).to_have_text("live")
    shown = page.evaluate(SEND, ["threads.create", {"input": message("On screen")}])
    show_thread(page, shown)
    wait_for(page, "window.setOptionsCalls >= 1")
    page.wait_for_timeout(1500)  # the first thread's own notices (and history refresh) pass
    before = page.evaluate("window.setOptionsCalls")
    page.evaluate("window.fetchUpdatesCalls = 0")

    page.evaluate(SEND, ["threads.create", {"input": message("Elsewhere")}])
    wait_for(page, f"window.setOptionsCalls > {before}")
    assert page.evaluate("window.fetchUpdatesCalls") == 0  # the thread on screen did not change


def test_a_dropped_socket_reconnects_with_backoff_and_catches_up(page):
    from playwright.sync_api import expect

    indicator = page.locator("#chatkit-live")
    expect(indicator).to_have_text("live")
    page.evaluate("window.fetchUpdatesCalls = 0")

    page.evaluate("window.refuseSockets = true; window.sockets.at(-1).close()")
    expect(indicator).to_have_text("reconnecting…")
    expect(indicator).to_have_attribute("data-state", "reconnecting")
    wait_for(page, "window.socketAttempts.length >= 4")
    gaps = page.evaluate(
        "window.socketAttempts.slice(1).map((t, i) => t - window.socketAttempts[i])"
    )
    retries = gaps[1:]  # the first gap is the page's life before the drop
    assert all(later > earlier for earlier, later in itertools.pairwise(retries)), gaps

    page.evaluate("window.refuseSockets = false")
    expect(indicator).to_have_text("live", timeout=20_000)
    wait_for(page, "window.fetchUpdatesCalls > 0")  # caught up on what it may have missed


def test_the_operator_page_follows_the_conversation_live(page, chromium, server):
    """The user's page and the operator's admin page, in two browsers, on one conversation."""
    from playwright.sync_api import expect

    expect(page.locator("#chatkit-live")).to_have_text("live")
    thread_id = page.evaluate(SEND, ["threads.create", {"input": message("Hello, anyone?")}])

    staff = chromium.new_context()
    try:
        admin = staff.new_page()
        errors: list[str] = []
        admin.on("pageerror", lambda error: errors.append(str(error)))
        admin.goto(f"{server.base_url}/admin/login/?next=/admin/")
        admin.fill("#id_username", "olga")
        admin.fill("#id_password", PASSWORD)
        admin.click("input[type=submit]")
        admin.goto(f"{server.base_url}/admin/chatkit_backend/thread/{quote(thread_id)}/operator/")
        expect(admin.locator(".chatkit-transcript")).to_contain_text("Hello, anyone?")

        # The user writes again: the operator's page shows it without a reload by hand.
        page.evaluate(
            SEND,
            ["threads.add_user_message", {"thread_id": thread_id, "input": message("Still here")}],
        )
        expect(admin.locator(".chatkit-transcript")).to_contain_text("Still here")

        # The operator answers: the user's page hears of it (fetchUpdates on the thread shown).
        show_thread(page, thread_id)
        page.evaluate("window.fetchUpdatesCalls = 0")
        admin.fill("#operator-reply", "Olga here, how can I help?")
        admin.click("button[value=reply]")
        expect(admin.locator(".chatkit-transcript")).to_contain_text("Operator (olga)")
        wait_for(page, "window.fetchUpdatesCalls > 0")

        # A change while the operator drafts a reply: a note, not a reload that loses the draft.
        admin.fill("#operator-reply", "A draft")
        page.evaluate(
            SEND,
            ["threads.add_user_message", {"thread_id": thread_id, "input": message("Hello?")}],
        )
        expect(admin.locator("#operator-live")).to_be_visible()
        expect(admin.locator("#operator-reply")).to_have_value("A draft")
        assert errors == []  # one live script, run once its elements exist
    finally:
        staff.close()


STOP = """
async (threadId) => {
  const controller = new AbortController();
  const request = window.chatkitFetch("/chatkit/api", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      type: "threads.add_user_message",
      params: { thread_id: threadId, input: %s },
    }),
    signal: controller.signal,
  });
  controller.abort();
  try { await request; } catch (error) {}
}
"""


def test_an_aborted_request_is_sent_as_a_stop_while_the_page_lives(page):
    from playwright.sync_api import expect

    expect(page.locator("#chatkit-live")).to_have_text("live")
    thread_id = page.evaluate(SEND, ["threads.create", {"input": message("Hello")}])
    page.evaluate(STOP % json.dumps(message("Long story please")), thread_id)
    wait_for(page, "window.sentFrames.some((f) => JSON.parse(f).type === 'stop')")
    stops = [
        json.loads(frame)
        for frame in page.evaluate("window.sentFrames")
        if json.loads(frame)["type"] == "stop"
    ]
    assert stops == [{"type": "stop", "thread_id": thread_id}]
