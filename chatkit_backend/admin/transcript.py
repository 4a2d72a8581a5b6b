"""A stored thread item, readable: as escaped HTML for the admin's transcript, or as plain text.

Every chatkit item type has its own rendering: messages as sanitised Markdown
(:mod:`.markdown`), tool calls with their arguments and result, widgets as a card of their
text, workflows and tasks as lists, attachments as thumbnails or links through signed URLs,
hidden context marked as hidden. All text goes through ``format_html``/``escape``; a URL
becomes a link only if it is http(s) (or our own signed attachment URL).
"""

from __future__ import annotations

import json
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from ..attachments.tokens import served_attachment_id, sign
from .markdown import render_markdown, safe_url
from .widgets import widget_text

HIDDEN_TYPES = frozenset({"hidden_context_item", "sdk_hidden_context"})
SPEAKERS = {
    "user_message": "User",
    "assistant_message": "Assistant",
    "client_tool_call": "Client tool",
    "widget": "Widget",
    "generated_image": "Image",
    "structured_input": "Question",
    "task": "Task",
    "workflow": "Workflow",
    "end_of_turn": "—",
    "hidden_context_item": "Hidden context",
    "sdk_hidden_context": "Hidden context (SDK)",
}


# An assistant message a person wrote in the admin (see admin/operator.py) names them here.
OPERATOR_KEY = "chatkit_backend_operator"


def speaker(data: dict[str, Any]) -> str:
    """Who said an item: a role, or for an operator's reply, the person."""
    kind = data.get("type", "")
    person = data.get(OPERATOR_KEY) if kind == "assistant_message" else None
    if isinstance(person, dict):
        return f"Operator ({person.get('name', '?')})"
    return SPEAKERS.get(kind, kind or "item")


def _json(value: Any, limit: int = 2000) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False, indent=1)
    return text if len(text) <= limit else text[:limit] + " …"


def _message_text(data: dict[str, Any]) -> str:
    return "".join(
        f"@{part.get('text', '')}" if part.get("type") == "input_tag" else part.get("text", "")
        for part in data.get("content") or []
        if isinstance(part, dict)
    )


def attachment_url(attachment_id: str) -> str | None:
    """A signed download URL for an attachment we store (relative: the admin's own host)."""
    try:
        path = reverse("chatkit_backend:attachment", args=[attachment_id])
    except NoReverseMatch:
        return None
    return f"{path}?token={sign(attachment_id, 'download')}"


def _attachments(attachments: list[dict[str, Any]]) -> SafeString:
    parts = []
    for attachment in attachments:
        name = str(attachment.get("name") or "file")
        url = attachment_url(str(attachment.get("id") or ""))
        if url is None:
            parts.append(format_html('<span class="ck-file">{}</span>', name))
        elif attachment.get("type") == "image":
            parts.append(
                format_html(
                    '<a class="ck-file" href="{}" target="_blank" rel="noopener">'
                    '<img src="{}" alt="{}" style="max-height:96px;max-width:160px"></a>',
                    url,
                    url,
                    name,
                )
            )
        else:
            parts.append(
                format_html(
                    '<a class="ck-file" href="{}" target="_blank" rel="noopener">[file] {}</a>',
                    url,
                    name,
                )
            )
    return format_html('<div class="ck-attachments">{}</div>', mark_safe(" ".join(parts)))


def _link(url: Any, label: Any) -> SafeString:
    url, label = str(url or ""), str(label or url or "")
    if safe_url(escape(url)) is None:
        return format_html("{}", label)
    return format_html('<a href="{}" rel="noopener noreferrer nofollow">{}</a>', url, label)


def _sources(data: dict[str, Any]) -> SafeString:
    sources = [
        annotation.get("source") or {}
        for part in data.get("content") or []
        if isinstance(part, dict)
        for annotation in part.get("annotations") or []
    ]
    if not sources:
        return mark_safe("")
    items = format_html_join(
        "", "<li>{}</li>", ((_link(s.get("url"), s.get("title")),) for s in sources)
    )
    return format_html('<ul class="ck-sources">{}</ul>', items)


def _task(task: dict[str, Any]) -> SafeString:
    title = task.get("title") or task.get("title_query") or task.get("type", "task")
    details = task.get("content") or ", ".join(task.get("queries") or [])
    sources = task.get("sources") or []
    links = format_html_join(
        ", ", "{}", ((_link(s.get("url"), s.get("title") or s.get("filename")),) for s in sources)
    )
    return format_html(
        "<li><strong>{}</strong> <span class='ck-muted'>[{}]</span> {} {}</li>",
        title,
        task.get("status_indicator", "none"),
        render_markdown(str(details)) if details else "",
        links,
    )


def _structured(data: dict[str, Any]) -> SafeString:
    rows = []
    for question in data.get("inputs") or []:
        answer = question.get("answer") or {}
        given = "skipped" if answer.get("skipped") else ", ".join(answer.get("values") or [])
        rows.append((question.get("question", ""), given or "—"))
    items = format_html_join("", "<li>{} → <em>{}</em></li>", rows)
    return format_html("<ul>{}</ul><div class='ck-muted'>{}</div>", items, data.get("status"))


def _generated_image(data: dict[str, Any]) -> SafeString:
    image = data.get("image") or {}
    url = str(image.get("url") or "")
    if not url:
        return format_html("<em>{}</em>", "generating…")
    ours = served_attachment_id(url)
    url = (attachment_url(ours) or "") if ours else url
    if not url or (not url.startswith("/") and safe_url(escape(url)) is None):
        return format_html("<code>{}</code>", image.get("id") or "image")
    return format_html(
        '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="generated image" '
        'style="max-height:160px"></a>',
        url,
        url,
    )


def body(data: dict[str, Any]) -> SafeString:
    """An item's stored JSON as safe HTML."""
    kind = data.get("type", "")
    if kind == "user_message":
        quoted = data.get("quoted_text")
        return format_html(
            "{}{}{}",
            format_html("<blockquote>{}</blockquote>", quoted) if quoted else "",
            render_markdown(_message_text(data)),
            _attachments(data.get("attachments") or []) if data.get("attachments") else "",
        )
    if kind == "assistant_message":
        return format_html("{}{}", render_markdown(_message_text(data)), _sources(data))
    if kind == "client_tool_call":
        return format_html(
            "<code>{}</code> <span class='ck-muted'>[{}]</span>"
            "<pre>arguments: {}</pre><pre>result: {}</pre>",
            data.get("name"),
            data.get("status"),
            _json(data.get("arguments")),
            _json(data.get("output")),
        )
    if kind == "widget":
        lines = widget_text(data.get("widget") or {})
        copy = data.get("copy_text")
        return format_html(
            '<div class="ck-card">{}{}</div>',
            format_html_join("", "<div>{}</div>", ((line,) for line in lines)),
            format_html("<div class='ck-muted'>copy text: {}</div>", copy) if copy else "",
        )
    if kind == "workflow":
        workflow = data.get("workflow") or {}
        summary = workflow.get("summary") or {}
        label = summary.get("title") or (
            f"{summary['duration']} s" if "duration" in summary else workflow.get("type", "")
        )
        tasks = format_html_join("", "{}", ((_task(t),) for t in workflow.get("tasks") or []))
        return format_html("<div><em>{}</em></div><ul>{}</ul>", label, tasks)
    if kind == "task":
        return format_html("<ul>{}</ul>", _task(data.get("task") or {}))
    if kind == "generated_image":
        return _generated_image(data)
    if kind == "structured_input":
        return _structured(data)
    if kind == "end_of_turn":
        return format_html("<span class='ck-muted'>{}</span>", "end of turn")
    if kind in HIDDEN_TYPES:
        content = data.get("content")
        text = content if isinstance(content, str) else _json(content)
        return format_html("<pre>{}</pre>", text)
    return format_html("<pre>{}</pre>", _json(data))


def plain_text(data: dict[str, Any]) -> tuple[str, str]:
    """(speaker, text) of an item's JSON, for the Markdown export."""
    kind = data.get("type", "")
    who = speaker(data)
    if kind in ("user_message", "assistant_message"):
        text = _message_text(data)
        names = [str(a.get("name", "?")) for a in data.get("attachments") or []]
        return who, text + (f"\n\n[attachments: {', '.join(names)}]" if names else "")
    if kind == "client_tool_call":
        call = f"{data.get('name')}({_json(data.get('arguments'))}) [{data.get('status')}]"
        return who, f"{call} -> {_json(data.get('output'))}"
    if kind == "widget":
        return who, data.get("copy_text") or "\n".join(widget_text(data.get("widget") or {}))
    if kind == "workflow":
        tasks = (data.get("workflow") or {}).get("tasks") or []
        return who, "\n".join(f"- {t.get('title') or t.get('content') or ''}" for t in tasks)
    if kind in HIDDEN_TYPES:
        content = data.get("content")
        return who, content if isinstance(content, str) else _json(content)
    if kind == "end_of_turn":
        return who, "(end of turn)"
    return who, _json(data)
