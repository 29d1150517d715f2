"""Every free text a person can type has a length limit that fits what is stored.

The rule is checked as data: every schema the app loads input with (request bodies,
query strings, the pages' forms, which load through the same schemas), every text
field in it, against the columns of the same name in the same domain's models."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import marshmallow as ma
from flask import Flask
from sqlalchemy import String

import trialdm
from tests.test_web_pages import enrolment_form
from tests.web_helpers import page_as
from trialdm.core.schemas import LoadSchema
from trialdm.extensions import db
from trialdm.participants.models import Participant


def schema_homes() -> dict[type[ma.Schema], str]:
    """Every schema class defined in trialdm -> the module that holds it (schemas made
    with ``Schema.from_dict`` do not know their own module)."""
    homes: dict[type[ma.Schema], str] = {}
    for info in pkgutil.walk_packages(trialdm.__path__, "trialdm."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if not (isinstance(value, type) and issubclass(value, ma.Schema)):
                continue
            made_here = value.__module__ == module.__name__
            # from_dict's classes: where they are made, or else where imported
            anonymous = value.__module__ in {"abc", "marshmallow.schema"}
            if made_here or (
                anonymous and (value not in homes or module.__name__.endswith(".schemas"))
            ):
                homes[value] = module.__name__
    return homes


def input_schemas(app: Flask, homes: dict[type[ma.Schema], str]) -> set[type[ma.Schema]]:
    """Every LoadSchema, and every schema an endpoint parses its arguments with."""
    found = {schema for schema in homes if issubclass(schema, LoadSchema)}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        handlers = (
            [getattr(view_class, m.lower(), None) for m in rule.methods or ()]
            if view_class
            else [view]
        )
        for handler in filter(None, handlers):
            apidoc = getattr(handler, "_apidoc", {})
            for parameter in apidoc.get("arguments", {}).get("parameters", []):
                schema = parameter["schema"]
                found.add(type(schema) if isinstance(schema, ma.Schema) else schema)
    return {schema for schema in found if schema in homes}


def text_fields(schema: type[ma.Schema], prefix: str = "") -> Iterator[tuple[str, ma.fields.Field]]:
    """(dotted name, field) of every text a client sends in ``schema``, nested included."""
    for name, field in schema._declared_fields.items():
        if field.dump_only:
            continue
        while isinstance(field, ma.fields.List | ma.fields.Tuple):
            field = field.inner if isinstance(field, ma.fields.List) else field.tuple_fields[0]
        if isinstance(field, ma.fields.Nested):
            nested = (
                field.nested()
                if callable(field.nested) and not isinstance(field.nested, type)
                else field.nested
            )
            nested_class = nested if isinstance(nested, type) else type(nested)
            yield from text_fields(nested_class, f"{prefix}{name}.")
        elif isinstance(field, ma.fields.String):
            yield prefix + name, field


def length_limit(field: ma.fields.Field) -> int | None:
    """The most characters ``field`` accepts (a closed list counts as its longest choice)."""
    limits = []
    for validator in field.validators:
        if isinstance(validator, ma.validate.Length) and validator.max is not None:
            limits.append(validator.max)
        if isinstance(validator, ma.validate.Length) and validator.equal is not None:
            limits.append(validator.equal)
        if isinstance(validator, ma.validate.OneOf):
            limits.append(max((len(str(c)) for c in validator.choices), default=0))
    return min(limits) if limits else None


def column_lengths(domain: str) -> dict[str, int | None]:
    """Column name -> the fewest characters any String column of that name in the
    domain's models holds (None for unbounded Text)."""
    try:
        models = importlib.import_module(f"trialdm.{domain}.models")
    except ModuleNotFoundError:
        return {}
    lengths: dict[str, int | None] = {}
    for mapper in db.Model.registry.mappers:
        if mapper.class_.__module__ != models.__name__:
            continue
        for column in mapper.columns:
            if isinstance(column.type, String) and column.type.length:
                known = lengths.get(column.key)
                lengths[column.key] = min(known or column.type.length, column.type.length)
    return lengths


def test_every_free_text_has_a_limit_that_fits_its_column(app):
    unlimited, too_long, checked = [], [], []
    homes = schema_homes()
    for schema in sorted(input_schemas(app, homes), key=lambda s: (homes[s], s.__qualname__)):
        domain = homes[schema].split(".")[1]
        columns = column_lengths(domain)
        for name, field in text_fields(schema):
            where = f"{homes[schema]}.{schema.__qualname__}.{name}"
            limit = length_limit(field)
            checked.append(where)
            if limit is None:
                unlimited.append(where)
                continue
            stored = columns.get(field.attribute or name.rsplit(".", 1)[-1])
            if stored is not None and limit > stored:
                too_long.append(f"{where}: {limit} > column {stored}")
    # the walk reaches the forms people type into, schemas made with from_dict included
    assert "trialdm.participants.schemas.ParticipantCreate.occupation" in checked
    assert "trialdm.qualitative.schemas.QualitativeUpdate.field_notes" in checked
    assert "trialdm.translation.schemas.TextIn.text" in checked
    assert not unlimited, "text fields without a length limit:\n" + "\n".join(unlimited)
    assert not too_long, "text fields longer than their column:\n" + "\n".join(too_long)


def test_a_too_long_other_diagnosis_is_refused_by_the_api_in_german(api_as, db_session):
    api = api_as("site_lead", ["BU"])
    body = {
        "category": "service_user",
        "site": "BU",
        "diagnoses": ["F20", {"code": "other", "text": "x" * 10_000}],
    }
    response = api.post("/api/v1/participants", json=body, headers={"Accept-Language": "de"})
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert "länger als 200 Zeichen" in str(response.json["errors"]["diagnoses"])
    assert db_session.query(Participant).count() == 0


def test_a_too_long_other_diagnosis_is_refused_on_the_page_in_german(app, make_user, db_session):
    client = page_as(app, make_user, "research_worker", ["BU"])
    form = client.get(
        "/participants/new?category=service_user", headers={"Accept-Language": "de"}
    ).get_data(as_text=True)
    # the browser stops typing where the server would refuse
    assert 'name="diagnosis_other" type="text" value="" maxlength="200"' in form
    assert 'name="occupation" type="text" value="" maxlength="120"' in form

    response = client.post(
        "/participants/new",
        data=enrolment_form(diagnosis_other="x" * 10_000),
        headers={"Accept-Language": "de"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = page.split('id="error-diagnosis_other">')[1].split("</p>")[0]
    assert error == "Verwenden Sie höchstens 200 Zeichen."
    assert 'id="error-diagnoses"' not in page  # beside the field typed in, not the list
    assert db_session.query(Participant).count() == 0


def test_pages_show_the_schema_limits_as_maxlength(app, make_user):
    client = page_as(app, make_user, "site_lead", ["BU"])
    contact = client.get("/contacts/new").get_data(as_text=True)
    assert 'name="notes" rows="3" maxlength="' in contact


def test_questionnaire_text_items_show_their_limit(app, make_user, make_participant, db_session):
    from datetime import date

    from tests.seeders.instruments import sync_shipped
    from trialdm.instruments.schemas import TEXT_MAX_LENGTH

    sync_shipped(db_session)
    db_session.commit()
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    client = page_as(app, make_user, "research_worker", ["BU"])
    url = f"/questionnaires/new?participant_id={participant.id}&instrument=psw_session_feedback"
    page = client.get(url).get_data(as_text=True)
    assert 'name="a.comments" rows="3" maxlength="2000"' in page
    # every shipped text item says its own limit, within what the server accepts at most
    from tests.test_instruments_redcap import SHIPPED
    from trialdm.instruments.definitions import load_definition_folder

    texts = [f for d in load_definition_folder(SHIPPED) for f in d.fields if f.type == "text"]
    assert texts and all(f.max_length and f.max_length <= TEXT_MAX_LENGTH for f in texts)
