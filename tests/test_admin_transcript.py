"""The thread page's transcript: every chatkit item type, readable, and nothing hostile runs."""

import re
from datetime import timedelta

import pytest
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomTask,
    EndOfTurnItem,
    FileAttachment,
    GeneratedImage,
    GeneratedImageItem,
    HiddenContextItem,
    ImageAttachment,
    InferenceOptions,
    SDKHiddenContextItem,
    SearchTask,
    TaskItem,
    ThoughtTask,
    URLSource,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import Button, Card, Text, Title
from django.contrib.admin.utils import quote
from django.test import Client
from django.utils import timezone

from chatkit_backend import models
from chatkit_backend.admin.markdown import render_markdown
from chatkit_backend.store.counters import refresh_counters, search_text

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = "<script>alert('x')</script>"
JS_LINK = "[click me](javascript:alert(1))"


def hostile_items(thread_id: str) -> list:
    start = timezone.now() - timedelta(minutes=5)
    at = iter(start + timedelta(seconds=n) for n in range(100))
    common = lambda: {"thread_id": thread_id, "created_at": next(at)}  # noqa: E731
    image = ImageAttachment(
        id="atc_image1",
        name=f'cat"><img src=x onerror=alert(1)>{SCRIPT}.png',
        mime_type="image/png",
        preview_url="http://localhost/chatkit/attachments/atc_image1",
    )
    pdf = FileAttachment(id="atc_file1", name=f"{SCRIPT}.pdf", mime_type="application/pdf")
    return [
        UserMessageItem(
            id="msg_user",
            content=[UserMessageTextContent(text=f"Hello {SCRIPT} and {JS_LINK} **bold**")],
            attachments=[image, pdf],
            quoted_text=f"quoted {SCRIPT}",
            inference_options=InferenceOptions(),
            **common(),
        ),
        AssistantMessageItem(
            id="msg_answer",
            content=[
                AssistantMessageContent(
                    text=f"# Heading\n\n- item one\n- [safe](https://example.com/a?b=1&c=2)\n\n"
                    f"```\n{SCRIPT}\n```\n\nand [x](JaVaScRiPt:alert(2)) `code`",
                    annotations=[
                        {
                            "source": URLSource(
                                title=f"Source {SCRIPT}", url="javascript:alert(3)"
                            ).model_dump()
                        }
                    ],
                )
            ],
            **common(),
        ),
        ClientToolCallItem(
            id="tc_call",
            call_id="call_1",
            name="get_weather",
            arguments={"city": SCRIPT},
            output={"temp": "21C", "note": SCRIPT},
            status="completed",
            **common(),
        ),
        WidgetItem(
            id="wdg_card",
            widget=Card(
                children=[
                    Title(value=f"Widget {SCRIPT}"),
                    Text(value="Forecast: sunny"),
                    Button(label="Book now"),
                ]
            ),
            copy_text="copy me",
            **common(),
        ),
        WorkflowItem(
            id="wf_flow",
            workflow=Workflow(
                type="custom",
                tasks=[
                    CustomTask(title=f"Looked up {SCRIPT}", content="found it"),
                    ThoughtTask(title="Thinking", content="pondered deeply"),
                    SearchTask(title="Searched", queries=["weather paris"]),
                ],
            ),
            **common(),
        ),
        TaskItem(id="tsk_one", task=CustomTask(title="Standalone task"), **common()),
        GeneratedImageItem(
            id="img_gen",
            image=GeneratedImage(id="gen1", url="javascript:alert(4)"),
            **common(),
        ),
        HiddenContextItem(id="hc_secret", content=f"internal note {SCRIPT}", **common()),
        SDKHiddenContextItem(id="shcx_sdk", content="sdk context", **common()),
        EndOfTurnItem(id="eot_1", **common()),
    ]


@pytest.fixture
def thread_page(admin_user, chatkit_user):
    now = timezone.now()
    thread = models.Thread.objects.create(
        id="thr_hostile",
        owner=chatkit_user,
        title=f"Title {SCRIPT}",
        created_at=now,
        updated_at=now,
    )
    for item in hostile_items(thread.id):
        data = item.model_dump(mode="json")
        models.ThreadItem.objects.create(
            thread=thread,
            item_id=item.id,
            type=item.type,
            created_at=item.created_at,
            data=data,
            text=search_text(data),
            feedback="negative" if item.id == "msg_answer" else None,
        )
    models.TurnUsage.objects.create(
        thread=thread,
        owner=chatkit_user,
        provider="openai",
        model="gpt-test",
        input_tokens=120,
        output_tokens=34,
        total_tokens=154,
    )
    refresh_counters(thread.id)
    client = Client()
    client.force_login(admin_user)
    response = client.get(f"/admin/chatkit_backend/thread/{quote(thread.id)}/change/")
    assert response.status_code == 200
    return response.content.decode()


def transcript_of(html: str) -> str:
    return html[html.index('class="chatkit-transcript"') :]


def test_nothing_hostile_survives(thread_page):
    html = thread_page
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert not re.search(r"""href=["']?\s*javascript:""", html, re.IGNORECASE)
    assert not re.search(r"""src=["']?\s*javascript:""", html, re.IGNORECASE)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in transcript_of(html)
    assert "Title &lt;script&gt;" in html  # the title, in the page and its heading


def test_every_item_type_is_readable(thread_page):
    html = transcript_of(thread_page)
    # Messages as sanitised markdown, links only when safe.
    assert "<strong>bold</strong>" in html
    assert "[click me](javascript:alert(1))" in html  # left as text
    assert '<a href="https://example.com/a?b=1&amp;c=2"' in html
    assert "<li>item one</li>" in html and "<code>code</code>" in html
    assert "<pre><code>&lt;script&gt;" in html
    # Tool calls with arguments and result.
    assert "get_weather" in html and "21C" in html and "arguments:" in html
    # Widgets as a card of their text.
    assert 'class="ck-card"' in html and "Forecast: sunny" in html and "[Button] Book now" in html
    # Workflows and tasks.
    assert "Looked up &lt;script&gt;" in html and "pondered deeply" in html
    assert "Standalone task" in html
    # Attachments through signed URLs, images as thumbnails.
    assert re.search(r'<img src="/chatkit/attachments/atc_image1\?token=[^"]+"', html)
    assert re.search(r'href="/chatkit/attachments/atc_file1\?token=[^"]+"', html)
    # Hidden context marked as hidden, feedback and usage shown.
    assert html.count("hidden from the user") == 2 and "internal note" in html
    assert "feedback: negative" in html
    assert "154</strong> tokens" in html and "gpt-test" in html
    assert "end of turn" in html


def test_signed_attachment_links_download(thread_page, client, settings, media):
    from django.core.files.base import ContentFile

    from chatkit_backend.attachments import get_storage

    name = get_storage().save("atc_file1", ContentFile(b"%PDF-1.4 data"))
    models.Attachment.objects.create(
        id="atc_file1",
        owner=models.Thread.objects.get().owner,
        thread_id="thr_hostile",
        name="x.pdf",
        mime_type="application/pdf",
        data={},
        file_name=name,
        size=13,
    )
    url = re.search(r'href="(/chatkit/attachments/atc_file1\?token=[^"]+)"', thread_page).group(1)
    response = client.get(url.replace("&amp;", "&"))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("[a](javascript:alert(1))", "href"),
        ("[a](java\tscript:alert(1))", "href"),
        ("[a](data:text/html,<script>)", "href"),
        ("<img src=x onerror=alert(1)>", "<img"),
        ('[a](https://x.example/"onmouseover="alert(1))', '"onmouseover'),
        ("**<b>bold</b>**", "<b>"),
        ("\x00 0 \x00", "\x00"),
    ],
)
def test_markdown_never_emits_active_content(source, forbidden):
    assert forbidden not in render_markdown(source)
