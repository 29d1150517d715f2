"""Summary tables: declarative specs, SQL aggregation, workbooks, build jobs.

openpyxl imports numpy when it is installed, only to accept numpy numbers as cell
values; no workbook here is given one, and numpy is 6 MB of a build's memory of
about 100. So a build (``operations.build_job``) imports openpyxl with numpy hidden
from it before it imports the workbook writer (numpy stays importable for whoever
needs it later); a worker that never builds a workbook, and the web, which only
creates jobs, import neither. Where openpyxl was already imported this changes
nothing.
"""

from __future__ import annotations

import sys


def import_openpyxl_without_numpy() -> None:
    if "openpyxl" in sys.modules or "numpy" in sys.modules:
        return
    sys.modules["numpy"] = None  # type: ignore[assignment]  # import numpy -> ImportError
    try:
        import openpyxl  # noqa: F401
    finally:
        del sys.modules["numpy"]
