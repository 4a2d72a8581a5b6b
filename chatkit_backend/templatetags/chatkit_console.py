"""``{% load chatkit_console %}{% chatkit_console %}``: the protocol console on any page."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from ..console.config import console_settings

register = template.Library()


@register.inclusion_tag("chatkit_backend/console.html", takes_context=True)
def chatkit_console(
    context: template.Context,
    title: str = "",
    fallback_for: str = "",
    events_open: bool = True,
    prefix: str = "chatkit-console",
) -> dict[str, Any]:
    """Render the console: a chat on ``chatkit/api`` and a pane of its raw events.

    ``title``: a heading above the chat. ``fallback_for``: the id of an element; the console
    stays hidden (and sends nothing) until that element is shown, e.g. a "the widget has not
    loaded" note. ``events_open``: whether the raw-events pane starts open. ``prefix``: the
    start of the element ids, to tell two consoles on one page apart.
    """
    request = context.get("request")
    if request is None:
        raise ImproperlyConfigured(
            "{% chatkit_console %} needs the request in the template context: add "
            "'django.template.context_processors.request' to the template context processors."
        )
    return {
        **console_settings(request),
        "title": title,
        "label": title or _("Chat console"),
        "fallback_for": fallback_for,
        "events_open": events_open,
        "prefix": prefix,
        # Django 6's CSP middleware: the console's <style> carries the page's nonce.
        "csp_nonce": context.get("csp_nonce"),
    }
