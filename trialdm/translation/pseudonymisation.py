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
from bisect import bisect_right
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


# A run of word characters, combining marks included (Devanagari vowel signs, Hebrew
# points), so that a name is matched only as a whole word in every script.
WORD_RUN = re.compile(
    r"[\w\u0300-\u036f\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0900-\u0dff"
    r"\u1ab0-\u1aff\u20d0-\u20ff]+"
)


def _same(piece: str, term: str) -> bool:
    """Case-aware: a capitalised term ("Grace") matches Grace and GRACE, not grace."""
    if len(piece) != len(term):
        return False
    if term[0].isupper():
        return piece[0] == term[0] and piece[1:].casefold() == term[1:].casefold()
    return piece.casefold() == term.casefold()


@dataclass(frozen=True)
class _Candidate:
    term: KeyTerm
    lead: int  # characters before the term's first word ("+256 ..." has 1)


def _index(terms: list[KeyTerm]) -> dict[str, list[_Candidate]]:
    """Terms by their first word, casefolded, longest term first."""
    index: dict[str, list[_Candidate]] = {}
    for term in terms:
        first = WORD_RUN.search(term.term)
        if first is None:
            continue  # punctuation only: nothing to match as a word
        index.setdefault(first.group(0).casefold(), []).append(_Candidate(term, first.start()))
    for candidates in index.values():
        candidates.sort(key=lambda c: (-len(c.term.term), c.term.term))
    return index


class _Lines:
    """Line numbers of offsets, by bisecting the newline positions once found."""

    def __init__(self, text: str) -> None:
        self.newlines = [m.start() for m in re.finditer("\n", text)]

    def of(self, offset: int) -> int:
        return bisect_right(self.newlines, offset - 1) + 1


def _inside(spans: list[tuple[int, int]], offset: int) -> bool:
    """Whether ``offset`` falls in one of ``spans`` (sorted, not overlapping)."""
    index = bisect_right(spans, (offset, float("inf"))) - 1
    return index >= 0 and spans[index][0] <= offset < spans[index][1]


def pseudonymise(text: str, terms: list[KeyTerm]) -> Result:
    """One pass over the words of ``text``: at each word, the longest key term that
    starts there and ends on a word boundary is replaced."""
    index = _index([t for t in terms if t.term.strip()])
    lines = _Lines(text)
    out: list[str] = []
    replacements: list[dict[str, Any]] = []
    placed: list[tuple[int, int]] = []  # spans of replacements in the output
    position = 0
    out_length = 0
    for run in WORD_RUN.finditer(text):
        if run.start() < position:
            continue  # inside text already replaced
        starts = [run.start()]
        if _is_hebrew(text[run.start()]) and text[run.start()] in HEBREW_PREFIXES:
            starts.append(run.start() + 1)
        found = None
        for word_start in starts:
            for candidate in index.get(text[word_start : run.end()].casefold(), ()):
                start = word_start - candidate.lead
                end = start + len(candidate.term.term)
                if start < position or end > len(text):
                    continue
                if not _same(text[start:end], candidate.term.term):
                    continue
                if end < len(text) and _is_word_char(text[end]):
                    continue
                if candidate.lead and start > 0 and _is_word_char(text[start - 1]):
                    continue
                found = (start, end, candidate.term)
                break
            if found:
                break
        if found is None:
            continue
        start, end, term = found
        out.append(text[position:start])
        out_start = out_length + start - position
        out.append(term.replacement)
        out_length = out_start + len(term.replacement)
        placed.append((out_start, out_length))
        replacements.append(
            {
                "entry_id": term.entry_id,
                "found": text[start:end],
                "replacement": term.replacement,
                "line": lines.of(start),
            }
        )
        position = end
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
    lines = _Lines(text)
    for match in TOKEN.finditer(text):
        token = match.group(0).rstrip("'’-")
        if not token[0].isupper() or token in NOT_NAMES or token in placeholders:
            continue
        if token.isupper() and len(token) <= 4:
            continue  # acronyms such as NHS, PSW
        if _inside(placed, match.start()):
            continue
        if _sentence_start(text, match.start()):
            continue
        flags.append({"token": token, "line": lines.of(match.start())})
    return flags
