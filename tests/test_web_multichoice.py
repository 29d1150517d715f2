"""The diagnoses on the participant form are a checkbox list (multichoice.js only adds
search and chips): every code shown with its name under its ICD block, and the ticked
boxes are what is saved."""

from __future__ import annotations

import re

from tests.test_web_pages import enrolment_form
from tests.web_helpers import page_as
from trialdm.participants.models import Participant


def test_the_form_lists_diagnoses_as_labelled_checkboxes_in_groups(app, make_user):
    client = page_as(app, make_user, "research_worker", ["BU"])
    page = client.get("/participants/new?category=service_user").get_data(as_text=True)
    assert "<select" not in page.split('id="field-diagnoses"')[1].split("</fieldset>")[0]
    assert 'type="checkbox" name="diagnoses" value="F20">' in page
    assert "F20 · Schizophrenia" in page  # never a bare code
    boxes = re.findall(r'name="diagnoses" value="([^"]+)"', page)
    assert len(boxes) == len(set(boxes)) > 10
    # under the ICD block people know it by, before the next block
    block = page.index("Schizophrenia, schizotypal and delusional disorders")
    assert block < page.index('value="F20"') < page.index("Mood [affective] disorders")
    assert "data-multi-choice" in page and "multichoice.js" in page
    assert "Ctrl" not in page


def test_ticked_checkboxes_are_saved_exactly(app, make_user, db_session):
    client = page_as(app, make_user, "research_worker", ["BU"])
    response = client.post("/participants/new", data=enrolment_form(diagnoses=["F20", "F32"]))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    created = db_session.query(Participant).one()
    assert sorted(d.code for d in created.diagnoses) == ["F20", "F32"]

    edit = client.get(f"/participants/{created.id}/edit").get_data(as_text=True)
    assert 'name="diagnoses" value="F20" checked>' in edit
    assert 'name="diagnoses" value="F32" checked>' in edit
    assert 'name="diagnoses" value="F31" checked>' not in edit


def test_a_refused_form_keeps_the_ticks(app, make_user, db_session):
    client = page_as(app, make_user, "research_worker", ["BU"])
    response = client.post(
        "/participants/new",
        data=enrolment_form(year_of_birth="1940", diagnoses=["F20", "F25"]),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="F20" checked>' in page and 'value="F25" checked>' in page
    assert 'value="F32" checked>' not in page
    assert db_session.query(Participant).count() == 0
