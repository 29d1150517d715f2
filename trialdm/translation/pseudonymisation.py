"""Replacing names and identifiers in a verbatim transcript, and flagging what is left.

Rules:
- whole words only: a term matches where the characters either side are not
  letters, combining marks (Devanagari vowel signs), digits or ``_``;
- case-aware: a capitalised term (a proper name, "Grace") matches its capitalised
  and upper-case forms but not the common word ("grace"); a lower-case term
  matches in any case;
- longest first: "Mary Anne" is replaced before "Mary", and replaced text is never
  matched again;
- every replacement is reported with its line; capitalised tokens left that are not
  sentence starts, placeholders or common words are flagged for a person to confirm.
A Hebrew name after a one-letter prefix (ו ב כ ל מ ש ה) is replaced and the prefix kept.
Scripts without case (Hebrew, Marathi) get replacements but no flags.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class KeyTerm:
    entry_id: int | None
    term: str
    replacement: str


@dataclass
class Result:
    text: str
    replacements: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)

    def as_report(self) -> dict[str, Any]:
        return {"replacements": self.replacements, "flags": self.flags}


# Capitalised words that are not names: pronoun, titles, days, months, interview labels.
NOT_NAMES = frozenset(
    [
        "I",
        "I'm",
        "I've",
        "I'd",
        "I'll",
        "OK",
        "Okay",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "Sir",
        "Madam",
        "God",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "English",
        "Interviewer",
        "Respondent",
        "Moderator",
        "Participant",
        "Facilitator",
        "PSW",
        "MHW",
        "FGD",
    ]
)
TOKEN = re.compile(r"[^\W\d_][\w'’-]*")
SPEAKER_LABEL = re.compile(r"^\s*[\w\s\[\]-]{1,24}:\s*")


def _is_word_char(char: str) -> bool:
    return char == "_" or unicodedata.category(char)[0] in "LMN"


# Hebrew writes some prepositions and conjunctions as a one-letter prefix of the next
# word ("לדוד", to David): a name after one of them is still a whole word.
HEBREW_PREFIXES = frozenset("ובכלמשה")


def _is_hebrew(char: str) -> bool:
    return "\u0590" <= char <= "\u05ff"


def _starts_word(text: str, start: int) -> bool:
    if start == 0 or not _is_word_char(text[start - 1]):
        return True
    return (
        _is_hebrew(text[start])
        and text[start - 1] in HEBREW_PREFIXES
        and (start == 1 or not _is_word_char(text[start - 2]))
    )


def _term_pattern(term: str) -> str:
    first, rest = term[0], term[1:]
    if first.isupper():
        # "Grace" -> Grace or GRACE, not grace
        return re.escape(first) + (f"(?i:{re.escape(rest)})" if rest else "")
    return f"(?i:{re.escape(term)})"


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def pseudonymise(text: str, terms: list[KeyTerm]) -> Result:
    ordered = sorted((t for t in terms if t.term.strip()), key=lambda t: (-len(t.term), t.term))
    if not ordered:
        return Result(text=text, flags=find_name_like(text, set()))
    pattern = re.compile("|".join(f"({_term_pattern(t.term)})" for t in ordered))
    out: list[str] = []
    replacements: list[dict[str, Any]] = []
    placed: list[tuple[int, int]] = []  # spans of replacements in the output
    position = 0
    out_length = 0
    search_from = 0
    while True:
        match = pattern.search(text, search_from)
        if match is None:
            break
        start, end = match.span()
        before_ok = _starts_word(text, start)
        after_ok = end == len(text) or not _is_word_char(text[end])
        if not (before_ok and after_ok):
            search_from = start + 1
            continue
        term = ordered[match.lastindex - 1]
        out.append(text[position:start])
        out_start = out_length + start - position
        out.append(term.replacement)
        out_length = out_start + len(term.replacement)
        placed.append((out_start, out_length))
        replacements.append(
            {
                "entry_id": term.entry_id,
                "found": match.group(0),
                "replacement": term.replacement,
                "line": _line_of(text, start),
            }
        )
        position = search_from = end
    out.append(text[position:])
    new_text = "".join(out)
    return Result(
        text=new_text,
        replacements=replacements,
        flags=find_name_like(new_text, {r["replacement"] for r in replacements}, placed),
    )


def _sentence_start(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    before = text[line_start:start]
    label = SPEAKER_LABEL.match(before)
    if label and label.end() == len(before):
        return True  # first word after "R1:" or "Interviewer:"
    stripped = before.rstrip(" \t\"'“‘(")
    return stripped == "" or stripped[-1] in ".!?…:"


def find_name_like(
    text: str, placeholders: set[str], placed: list[tuple[int, int]] | None = None
) -> list[dict[str, Any]]:
    """Capitalised tokens that may be names left in the text."""
    flags = []
    placed = placed or []
    for match in TOKEN.finditer(text):
        token = match.group(0).rstrip("'’-")
        if not token[0].isupper() or token in NOT_NAMES or token in placeholders:
            continue
        if token.isupper() and len(token) <= 4:
            continue  # acronyms such as NHS, PSW
        if any(s <= match.start() < e for s, e in placed):
            continue
        if _sentence_start(text, match.start()):
            continue
        flags.append({"token": token, "line": _line_of(text, match.start())})
    return flags
