"""A small, safe Markdown for the admin's transcript: the subset assistants write.

Everything is HTML-escaped *first*; only then are a few constructs turned into tags this
module writes itself: paragraphs and line breaks, ``#`` headings, ``-``/``*``/``1.`` lists,
fenced and inline code, ``**bold**``, ``*italic*`` and ``[links](https://…)``. A link is kept
only for http, https and mailto URLs (``javascript:``, ``data:`` and the rest stay text), and
opens with ``rel="noopener noreferrer nofollow"``. No raw HTML survives, so nothing a user or
a model wrote can run in a staff member's browser.
"""

from __future__ import annotations

import html
import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

SAFE_SCHEMES = ("http://", "https://", "mailto:")
_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_PLACEHOLDER = "\x00{}\x00"


def safe_url(url: str) -> str | None:
    """``url`` (as escaped text) if its scheme is one a link may have, else ``None``."""
    raw = html.unescape(url)
    # Browsers ignore control characters and spaces inside a scheme ("java\tscript:").
    compact = re.sub(r"[\x00-\x20]", "", raw).lower()
    return url if compact.startswith(SAFE_SCHEMES) else None


def _inline(text: str, kept: list[str]) -> str:
    def keep(fragment: str) -> str:
        kept.append(fragment)
        return _PLACEHOLDER.format(len(kept) - 1)

    text = _INLINE_CODE.sub(lambda m: keep(f"<code>{m.group(1)}</code>"), text)

    def link(match: re.Match[str]) -> str:
        label, url = match.group(1), match.group(2)
        if safe_url(url) is None:
            return match.group(0)
        return keep(f'<a href="{url}" rel="noopener noreferrer nofollow" target="_blank">') + (
            label + keep("</a>")
        )

    text = _LINK.sub(link, text)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    return _ITALIC.sub(r"<em>\1</em>", text)


def _block(block: str, kept: list[str]) -> str:
    lines = block.split("\n")
    if all(_BULLET.match(line) for line in lines):
        ordered = bool(re.match(r"^\s*\d", lines[0]))
        tag = "ol" if ordered else "ul"
        items = "".join(f"<li>{_inline(_BULLET.match(x).group(1), kept)}</li>" for x in lines)  # type: ignore[union-attr]
        return f"<{tag}>{items}</{tag}>"
    heading = _HEADING.match(lines[0])
    if heading and len(lines) == 1:
        return f"<p><strong>{_inline(heading.group(1), kept)}</strong></p>"
    return "<p>" + "<br>".join(_inline(line, kept) for line in lines) + "</p>"


def render_markdown(text: str) -> SafeString:
    """``text`` as safe HTML (see the module's docstring for what is understood)."""
    kept: list[str] = []
    escaped = escape((text or "").replace("\x00", "")).replace("\r\n", "\n")

    def fence(match: re.Match[str]) -> str:
        kept.append(f"<pre><code>{match.group(1).rstrip()}</code></pre>")
        return "\n\n" + _PLACEHOLDER.format(len(kept) - 1) + "\n\n"

    escaped = _FENCE.sub(fence, escaped)
    blocks = [b.strip("\n") for b in re.split(r"\n\s*\n", escaped) if b.strip()]
    rendered = []
    for block in blocks:
        if re.fullmatch(r"\x00\d+\x00", block):
            rendered.append(block)
        else:
            rendered.append(_block(block, kept))
    out = "".join(rendered)
    # Placeholders may nest (a link around inline code): resolve until none is left.
    for _ in range(3):
        out = re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], out)
    return mark_safe(out)  # built from escaped text and our own tags only
