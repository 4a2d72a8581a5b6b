"""The ladder as a newcomer walks it: the example site started with ``EXAMPLE_AGENT=<step>``,
no provider key, its page opened, and the page's first suggested prompt sent over HTTP.

Each step runs the example site under uvicorn in a subprocess (see ``tests/support/
example_site.py``), signed in the way the page signs a visitor in (the session, with CSRF).
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from chatkit_backend.providers.offline import LABEL
from chatkit_backend.testing import ChatKitClient
from example_project.ladder import basic
from tests.support.example_site import ExampleSite, example_database, site_environment

FIRST_ANSWERS = {
    "basic": f"{basic.LABEL} This server's respond() wrote this answer itself. You said: \"Hello",
    "agent": f'{LABEL} You said: "Who are you?".',
    "tool": f"{LABEL} The tool `get_weather` returned: Sunny and 21°C in Lima (demo data).",
    "multi_agent": f"{LABEL} The Billing agent has taken over.",
}


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory):
    tmp_dir = tmp_path_factory.mktemp("ladder-site")
    with example_database(tmp_dir) as database_url:
        ExampleSite(site_environment(database_url), tmp_dir).manage("migrate", "--noinput")
        yield database_url, tmp_dir


@pytest.mark.parametrize("step", list(FIRST_ANSWERS))
def test_a_newcomer_walks_the_step_without_a_key(database, step):
    database_url, tmp_dir = database
    site = ExampleSite(site_environment(database_url, EXAMPLE_AGENT=step), tmp_dir)
    server = site.start("uvicorn", name=f"uvicorn-{step}")
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            html = client.get("/").text
            config = json.loads(
                re.search(
                    r'<script id="chatkit-config" type="application/json">(.*?)</script>', html
                ).group(1)
            )
            assert config["step"] == step and f"Ladder step: <code>{step}</code>" in html
            assert ('id="reset-agent"' in html) is (step == "multi_agent")
            api = ChatKitClient(client, headers={"X-CSRFToken": client.cookies["csrftoken"]})
            answer = api.create_thread(config["prompts"][0]["prompt"])
        assert answer.errors == []
        assert len(answer.text_deltas) > 3
        assert answer.assistant_text.startswith(FIRST_ANSWERS[step])
    finally:
        site.stop()
