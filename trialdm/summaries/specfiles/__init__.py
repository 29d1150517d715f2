"""Summary tables as data: the files of ``tables/`` (and the trial's folders).

``load_table_file`` reads and checks one file; :mod:`.build` turns it into the
engine's spec; :mod:`trialdm.summaries.registry` lists every table of a trial.
"""

from trialdm.summaries.specfiles.build import build_spec
from trialdm.summaries.specfiles.model import Problem, TableFile, TableFileError
from trialdm.summaries.specfiles.parse import load_table_file, parse_table

__all__ = [
    "Problem",
    "TableFile",
    "TableFileError",
    "build_spec",
    "load_table_file",
    "parse_table",
]
