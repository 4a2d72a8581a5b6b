"""The protocol console's server side: who may open the admin Playground, and what the
``{% chatkit_console %}`` tag renders. The console in a browser: ``test_console_browser.py``."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, RequestContext, Template
from django.test import RequestFactory
from django.urls import reverse

from chatkit_backend.console import PERMISSION

PLAYGROUND = "/admin/chatkit_backend/playground/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user("operator", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="use_playground"))
    return user


@pytest.fixture
def staffer(django_user_model):
    return django_user_model.objects.create_user("staffer", password="pw", is_staff=True)


def test_the_playground_is_the_entry_of_a_permission_of_its_own(operator, staffer):
    assert reverse("admin:chatkit_backend_playground_changelist") == PLAYGROUND
    assert operator.has_perm(PERMISSION)
    assert not staffer.has_perm(PERMISSION)
    # Only that permission: no add/change/delete/view permissions on a proxy of threads.
    codenames = set(
        Permission.objects.filter(content_type__model="playground").values_list(
            "codename", flat=True
        )
    )
    assert codenames == {"use_playground"}


def test_staff_with_the_permission_find_it_in_the_admin_index_and_open_it(client, operator):
    client.force_login(operator)
    index = client.get("/admin/")
    assert f'href="{PLAYGROUND}"' in index.content.decode()

    page = client.get(PLAYGROUND)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Playground</h1>" in html
    assert "data-chatkit-console" in html
    assert 'data-api-url="/chatkit/api"' in html
    assert 'data-upload-url="/chatkit/api/upload"' in html
    assert re.search(r'data-csrf-token="[A-Za-z0-9]{64}"', html)
    assert re.search(r'<script src="[^"]*chatkit_backend/console.js" defer>', html)
    assert "You chat as <strong>operator</strong>" in html


def test_superusers_may_open_it(client, admin_user):
    client.force_login(admin_user)
    assert client.get(PLAYGROUND).status_code == 200


def test_staff_without_the_permission_are_refused(client, staffer):
    client.force_login(staffer)
    assert PLAYGROUND not in client.get("/admin/").content.decode()
    response = client.get(PLAYGROUND)
    assert response.status_code == 403
    assert b"data-chatkit-console" not in response.content


def test_users_who_are_not_staff_are_sent_to_the_admin_login(client, django_user_model):
    user = django_user_model.objects.create_user("visitor", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="use_playground"))
    client.force_login(user)  # the permission without is_staff opens nothing
    response = client.get(PLAYGROUND)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    client.logout()
    assert client.get(PLAYGROUND)["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("suffix", ["add/", "thr_0123456789abcdef/change/", "x/delete/"])
def test_only_the_page_is_routed(client, operator, suffix):
    client.force_login(operator)
    response = client.get(PLAYGROUND + suffix, follow=True)
    assert response.status_code == 404


# -- the template tag -------------------------------------------------------------------------


def render(source: str, **context: object) -> str:
    request = RequestFactory().get("/")
    return Template("{% load chatkit_console %}" + source).render(RequestContext(request, context))


def test_the_tag_renders_the_console_with_this_sites_endpoints_and_limits(settings):
    settings.CHATKIT_BACKEND = {
        **settings.CHATKIT_BACKEND,
        "ATTACHMENT_ALLOWED_TYPES": ["text/plain", "image/png"],
        "ATTACHMENT_MAX_BYTES": 1234,
    }
    html = render('{% chatkit_console title="Chat here" %}')
    assert '<section class="ck-console" data-chatkit-console aria-label="Chat here"' in html
    assert "<h2>Chat here</h2>" in html
    assert 'accept="text/plain,image/png"' in html
    assert 'data-max-bytes="1234"' in html
    assert " hidden" not in html.split("<section", 1)[1].split(">", 1)[0]
    assert " open>" in html  # the raw-events pane starts open


def test_the_tag_without_attachments_offers_no_file_input(settings):
    settings.CHATKIT_BACKEND = {**settings.CHATKIT_BACKEND, "ATTACHMENTS": False}
    assert 'type="file"' not in render("{% chatkit_console %}")


def test_a_fallback_console_starts_hidden_and_closed():
    html = render('{% chatkit_console fallback_for="load-note" events_open=False %}')
    section = html.split("<section", 1)[1].split(">", 1)[0]
    assert 'data-fallback-for="load-note" hidden' in section
    assert " open>" not in html


def test_the_tag_carries_a_csp_nonce_to_its_style():
    html = render("{% chatkit_console %}", csp_nonce="n0nce")
    assert '<style nonce="n0nce">' in html


def test_the_tag_escapes_what_it_is_given():
    html = render("{% chatkit_console title=title %}", title='"><script>alert(1)</script>')
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html


def test_the_tag_says_what_it_needs_without_the_request():
    with pytest.raises(ImproperlyConfigured, match=r"context_processors\.request"):
        Template("{% load chatkit_console %}{% chatkit_console %}").render(Context({}))
