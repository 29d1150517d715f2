"""Instrument definitions: parsing and validating the files of ``instruments/``.

An instrument is data, not code: one TOML file per instrument (see
``instruments/README.md`` for the format and why TOML). This module turns a file
into an :class:`InstrumentDefinition`, reporting every problem with its file,
field and reason. Show-if conditions and calculations are parsed into the tree of
:mod:`trialdm.instruments.logic` here, at load; :mod:`trialdm.instruments.scoring`
evaluates them over answers.

A stored version keeps its definition as the normalised dict of
:meth:`InstrumentDefinition.to_dict`; :meth:`InstrumentDefinition.from_dict`
reads it back, so an old version is always readable exactly as it was.
"""

from trialdm.instruments.definitions.model import (
    ACTION_TAG,
    ALIGNMENTS,
    CHOICE_TYPES,
    DATE_ORDERS,
    DATETIME_FORMATS,
    DEFAULT_LANGUAGE,
    FIELD_TYPES,
    MISSING_CODES,
    NUMERIC_TYPES,
    ORDERED_FORMATS,
    RESPONDENT_CATEGORIES,
    SCORE_METHODS,
    TEXT_FORMATS,
    WIDGETS,
    Choice,
    DefinitionError,
    DefinitionProblem,
    FieldDefinition,
    InstrumentDefinition,
    Labels,
    Logic,
    Missing,
    ScoreDefinition,
    action_tags,
)
from trialdm.instruments.definitions.parsing import (
    load_definition_file,
    load_definition_folder,
    parse_definition,
)

__all__ = [
    "ACTION_TAG",
    "ALIGNMENTS",
    "CHOICE_TYPES",
    "DATETIME_FORMATS",
    "DATE_ORDERS",
    "DEFAULT_LANGUAGE",
    "FIELD_TYPES",
    "MISSING_CODES",
    "NUMERIC_TYPES",
    "ORDERED_FORMATS",
    "RESPONDENT_CATEGORIES",
    "SCORE_METHODS",
    "TEXT_FORMATS",
    "WIDGETS",
    "Choice",
    "DefinitionError",
    "DefinitionProblem",
    "FieldDefinition",
    "InstrumentDefinition",
    "Labels",
    "Logic",
    "Missing",
    "ScoreDefinition",
    "action_tags",
    "load_definition_file",
    "load_definition_folder",
    "parse_definition",
]
