"""Data-quality checks declared as data (``quality/checks.toml``), evaluated in SQL.

A rule compares values of a participant's record, of responses at events, of single
answers and of contact sessions, within one form and across forms and records::

    [[rule]]
    name = "consent_before_enrolment"
    kind = "compare"                      # compare | range | required
    left = "participant.consent_date"
    op = "<="
    right = "participant.enrolment_date"
    message = "The consent is dated after the enrolment."

Terms: ``participant.<field>`` (and the derived ``participant.age_at_enrolment``,
``participant.intervention_end``), ``response.<instrument>.<event>.collected_on``,
``answer.<instrument>.<event>.<field>``, ``contact.date`` (one row per contact the
participant attended), or a literal number or ISO date. ``compare`` fails when both
sides have a value and the comparison is false; ``range`` when ``value`` lies outside
``min``..``max``; ``required`` when the window of the answer's event has closed and
the answer is not there. ``target`` (a term naming a stored field; the left side or
value by default) is where the query goes. ``categories`` (default: service users)
and ``on_save`` (default true: checked, in the same transaction, for each participant
whose record, responses or contacts a transaction changes) are optional.

Each rule is one SQL statement per site (or for the participants saved). Every failure
opens one query; a check key (rule, participant, response, contact) keeps a second
run from opening it again, whatever became of the first query.
"""

from __future__ import annotations

import operator
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from trialdm.participants.vocabulary import CATEGORIES

FILE_NAME = "checks.toml"
EXTENSION_KEY = "quality_rules"
KINDS = ("compare", "range", "required")
OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
}
PARTICIPANT_TERMS = (
    "enrolment_date",
    "consent_date",
    "year_of_birth",
    "age",
    "intervention_start",
    "withdrawal_date",
    "training_completed",
    "years_of_illness",
    "years_in_care",
)
DERIVED_TERMS = ("age_at_enrolment", "intervention_end")
RULE_KEYS = {
    "name",
    "kind",
    "message",
    "left",
    "op",
    "right",
    "value",
    "min",
    "max",
    "target",
    "categories",
    "on_save",
}


class RuleFileError(ValueError):
    """A problem in the rules file, naming file, rule and key."""

    def __init__(self, path: Path, where: str, problem: str) -> None:
        super().__init__(f"{path}: {where}: {problem}")


@dataclass(frozen=True)
class Term:
    kind: str  # participant | derived | response | answer | contact | literal
    name: str = ""
    instrument: str = ""
    event: str = ""
    value: Any = None

    @property
    def text(self) -> str:
        if self.kind == "literal":
            return str(self.value)
        if self.kind in ("participant", "derived"):
            return f"participant.{self.name}"
        if self.kind == "response":
            return f"{self.instrument} at {self.event}: {self.name}"
        if self.kind == "answer":
            return f"{self.instrument} at {self.event}: {self.name}"
        return f"contact.{self.name}"

    @property
    def stored_field(self) -> bool:
        return self.kind in ("participant", "response", "answer")


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    message: str
    left: Term
    right: Term | None = None
    op: str = "<="
    low: float | None = None
    high: float | None = None
    target: Term | None = None
    categories: tuple[str, ...] = ("service_user",)
    on_save: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "message": self.message,
            "on_save": self.on_save,
        }


def parse_term(raw: Any, path: Path, where: str, events: set[str]) -> Term:
    if isinstance(raw, bool):
        raise RuleFileError(path, where, "a term is a name or a number, not true/false")
    if isinstance(raw, (int, float)):
        return Term("literal", value=raw)
    if isinstance(raw, date):
        return Term("literal", value=raw)
    if not isinstance(raw, str):
        raise RuleFileError(path, where, f"{raw!r} is not a term")
    try:
        return Term("literal", value=date.fromisoformat(raw))
    except ValueError:
        pass
    parts = raw.split(".")
    head = parts[0]
    if head == "participant" and len(parts) == 2:
        if parts[1] in PARTICIPANT_TERMS:
            return Term("participant", parts[1])
        if parts[1] in DERIVED_TERMS:
            return Term("derived", parts[1])
        known = ", ".join(PARTICIPANT_TERMS + DERIVED_TERMS)
        raise RuleFileError(path, where, f"participant.{parts[1]} is unknown; use one of {known}")
    if head in ("response", "answer") and len(parts) == 4:
        _, instrument, event, name = parts
        if event not in events:
            raise RuleFileError(path, where, f"{event!r} is not a schedule event")
        if head == "response" and name != "collected_on":
            raise RuleFileError(
                path, where, "a response term is response.<instrument>.<event>.collected_on"
            )
        return Term(head, name, instrument, event)
    if raw == "contact.date":
        return Term("contact", "date")
    raise RuleFileError(
        path,
        where,
        f"{raw!r} is not a term (participant.<field>, response.<instrument>.<event>."
        "collected_on, answer.<instrument>.<event>.<field>, contact.date, a number or a date)",
    )


def parse_rules(path: Path, events: set[str]) -> tuple[Rule, ...]:
    """The rules of ``path`` (none when the file is absent); a problem names the file,
    the rule and the key."""
    if not path.exists():
        return ()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RuleFileError(path, "file", str(exc)) from None
    unknown_top = set(data) - {"rule"}
    if unknown_top:
        raise RuleFileError(path, "file", f"unknown keys {sorted(unknown_top)}; use [[rule]]")
    rules: list[Rule] = []
    for number, raw in enumerate(data.get("rule", []), start=1):
        rule = _parse_rule(_RuleSource(path, events, raw, f"rule {number}"))
        if any(r.name == rule.name for r in rules):
            raise RuleFileError(path, f"rule {rule.name!r}.name", "the name is used twice")
        rules.append(rule)
    return tuple(rules)


@dataclass
class _RuleSource:
    path: Path
    events: set[str]
    raw: dict[str, Any]
    where: str

    def fail(self, key: str, problem: str) -> RuleFileError:
        return RuleFileError(self.path, f"{self.where}.{key}" if key else self.where, problem)

    def term(self, key: str, kind: str, required: bool = True) -> Term | None:
        if key not in self.raw:
            if required:
                raise self.fail(key, f"required for a {kind} rule")
            return None
        return parse_term(self.raw[key], self.path, f"{self.where}.{key}", self.events)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_rule(src: _RuleSource) -> Rule:
    raw = src.raw
    name = raw.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise src.fail("name", "a name of letters, digits and _ is required")
    src.where = f"rule {name!r}"
    extra = set(raw) - RULE_KEYS
    if extra:
        raise src.fail("", f"unknown keys {sorted(extra)}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise src.fail("kind", f"use one of {', '.join(KINDS)}")
    message = raw.get("message")
    if not isinstance(message, str) or not message.strip():
        raise src.fail("message", "a message for the query is required")
    categories = tuple(raw.get("categories", ["service_user"]))
    if not categories or any(c not in CATEGORIES for c in categories):
        raise src.fail("categories", f"use categories of {', '.join(CATEGORIES)}")
    on_save = raw.get("on_save", True)
    if not isinstance(on_save, bool):
        raise src.fail("on_save", "true or false")
    low = high = right = None
    op = "<="
    if kind == "compare":
        left = src.term("left", kind)
        right = src.term("right", kind)
        op = raw.get("op", "")
        if op not in OPS:
            raise src.fail("op", f"use one of {' '.join(OPS)}")
    else:
        left = src.term("value", kind)
    if kind == "range":
        low, high = raw.get("min"), raw.get("max")
        if low is None and high is None:
            raise src.fail("", "a range rule needs min, max or both")
        for key, bound in (("min", low), ("max", high)):
            if bound is not None and not _number(bound):
                raise src.fail(key, "a number")
    assert left is not None
    if left.kind == "literal":
        raise src.fail("", "the first term must be a value of the data")
    if kind == "required" and left.kind != "answer":
        raise src.fail("value", "a required rule checks an answer term")
    target = src.term("target", kind, required=False) or left
    if not target.stored_field:
        raise src.fail("target", f"{target.text} is not a stored field; name one as target")
    return Rule(
        name=name,
        kind=kind,
        message=message.strip(),
        left=left,
        right=right,
        op=op,
        low=low,
        high=high,
        target=target,
        categories=categories,
        on_save=on_save,
    )


def init_app(app: Flask) -> None:
    from trialdm.schedule.queries import schedule_events

    events = {e.name for e in schedule_events(app.config)}
    path = Path(app.config["QUALITY_DIR"]) / FILE_NAME
    app.extensions[EXTENSION_KEY] = parse_rules(path, events)


def rules(app: Flask | None = None) -> list[dict[str, Any]]:
    app = app or current_app
    return [rule.to_dict() for rule in app.extensions[EXTENSION_KEY]]
