"""The expression language of instrument logic: REDCap's branching-logic and
calculation syntax, parsed by a grammar into one tree that the API, the pages, the
summaries and the REDCap interchange all use."""

from trialdm.instruments.logic.evaluate import (
    MissingCode,
    answer_value,
    calculated_number,
    evaluate,
    evaluate_answers,
    truthy,
)
from trialdm.instruments.logic.grammar import FUNCTIONS, LogicError, parse
from trialdm.instruments.logic.printer import quote, to_redcap
from trialdm.instruments.logic.tree import Call, Node, Number, Operation, Ref, Text, references

__all__ = [
    "FUNCTIONS",
    "Call",
    "LogicError",
    "MissingCode",
    "Node",
    "Number",
    "Operation",
    "Ref",
    "Text",
    "answer_value",
    "calculated_number",
    "evaluate",
    "evaluate_answers",
    "parse",
    "quote",
    "references",
    "to_redcap",
    "truthy",
]
