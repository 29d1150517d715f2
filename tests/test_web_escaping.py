"""Walks every page (GET) with records whose free text is a ``<script>`` payload.

Records of site BU are made by every seeder in tests/seeders/ with the payload as
their marker (notes, labels, translations, occupations...). As an admin every page
must render with the payload escaped; as users of another site every page of a BU
record must answer 403/404 and never show the payload at all.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import seeders
from tests.web_helpers import page_as
from trialdm.auth.permissions import PERMISSION_ATTR, PUBLIC

PAYLOAD = "<script>alert('xss-7f3a')</script>"
ESCAPED = "&lt;script&gt;alert("
PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
# Query strings that open the pages' other states (forms of each kind...).
EXTRA_QUERIES = {"participant_pages.create": ["?category=service_user", "?category=psw"]}


@pytest.fixture
def seeded(db_session):
    params: dict[str, object] = {}
    for module in seeders():
        params.update(module.seed(db_session, "BU", PAYLOAD))
    db_session.commit()
    return params


def page_urls(app, params: dict[str, object]) -> list[tuple[str, str]]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.rule.startswith("/api/"):
            continue
        if rule.endpoint.endswith("static"):
            continue
        missing = [name for name in rule.arguments if name not in params]
        if missing:
            raise LookupError(f"{rule.rule}: no seeder provides {', '.join(missing)}")
        url = PARAM.sub(lambda m: str(params[m.group(1)]), rule.rule)
        urls.append((rule.endpoint, url))
        urls += [(rule.endpoint, url + query) for query in EXTRA_QUERIES.get(rule.endpoint, [])]
    return sorted(urls)


def test_payloads_are_inert_on_every_page(app, make_user, seeded):
    admin = page_as(app, make_user, "admin")
    shown_somewhere = False
    for _endpoint, url in page_urls(app, seeded):
        response = admin.get(url)
        assert response.status_code < 500, (url, response.status_code)
        body = response.get_data(as_text=True)
        assert PAYLOAD not in body, f"{url} shows the payload unescaped"
        assert "<script>alert" not in body, url
        shown_somewhere |= ESCAPED in body
    assert shown_somewhere, "no page showed the seeded records at all"


@pytest.mark.parametrize("role", ["research_worker", "site_lead", "translator", "coordinator"])
def test_other_sites_pages_are_hidden(app, make_user, seeded, role):
    client = page_as(app, make_user, role, None if role == "coordinator" else ["ULM"])
    for endpoint, url in page_urls(app, seeded):
        response = client.get(url)
        body = response.get_data(as_text=True)
        if role == "coordinator":
            assert response.status_code < 500, url
            assert PAYLOAD not in body
            continue
        assert "xss-7f3a" not in body, f"{role} of ULM sees a BU record at {url}"
        # A public page (a self-report link) is opened by its token, not by site.
        public_page = getattr(app.view_functions[endpoint], PERMISSION_ATTR, None) == PUBLIC
        if PARAM.search(app.url_map._rules_by_endpoint[endpoint][0].rule) and not public_page:
            assert response.status_code in (403, 404), (url, response.status_code)
