"""Approved transcripts as files with their line numbers: .txt, .docx, .xlsx.

Text goes in unchanged (Hebrew stays right-to-left in logical order, Marathi's
combining marks stay), so a round trip gives back the same strings.
"""

from __future__ import annotations

import io
import unicodedata

# python-docx and openpyxl (with lxml and numpy) are imported by the writer that uses
# them: this module is imported with the web's pages and API, whose processes then
# start without them until a transcript is downloaded in that format.

FORMULA_START = ("=", "+", "-", "@")
MIMETYPES = {
    "txt": "text/plain; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def is_rtl(text: str) -> bool:
    """Whether the first strong character of ``text`` is right-to-left."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False


def as_txt(heading: str, lines: list[tuple[int, str]]) -> bytes:
    width = len(str(lines[-1][0])) if lines else 1
    body = [heading, ""] + [f"{number:>{width}}  {text}" for number, text in lines]
    return ("\n".join(body) + "\n").encode("utf-8")


def as_docx(heading: str, lines: list[tuple[int, str]]) -> bytes:
    import docx
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = docx.Document()
    document.add_heading(heading, level=1)
    table = document.add_table(rows=0, cols=2)
    for number, text in lines:
        cells = table.add_row().cells
        cells[0].text = str(number)
        cells[1].text = text
        if is_rtl(text):
            paragraph = cells[1].paragraphs[0]
            paragraph._p.get_or_add_pPr().append(paragraph._p.makeelement(qn("w:bidi"), {}))
            for run in paragraph.runs:
                run.font.rtl = True
        cells[0].paragraphs[0].runs[0].font.size = Pt(8)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def as_xlsx(heading: str, lines: list[tuple[int, str]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Transcript")
    sheet.append([heading])
    sheet.append(["Line", "Text"])
    for number, text in lines:
        sheet.append([number, _text_cell(sheet, text)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _text_cell(sheet, text: str):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=text)
    if text.startswith(FORMULA_START):
        # A string cell is never evaluated as a formula.
        cell.data_type = "s"
    return cell


RENDERERS = {"txt": as_txt, "docx": as_docx, "xlsx": as_xlsx}


def transcript_file(session, transcript, fmt: str) -> tuple[bytes, str, str]:
    """The approved English of ``transcript`` with line numbers as ``fmt`` (txt, docx,
    xlsx): content, mimetype and file name. The download is on the record."""
    from trialdm.core.audit import record_event
    from trialdm.translation.queries import transcript_lines

    lines = [(line.number, line.text) for line in transcript_lines(session, transcript)]
    heading = f"{transcript.site_code} — {transcript.title}"
    content = RENDERERS[fmt](heading, lines)
    record_event(
        session,
        "export",
        "transcripts",
        transcript.id,
        transcript.site_code,
        {"format": fmt, "lines": len(lines)},
        durable=True,
    )
    return content, MIMETYPES[fmt], f"transcript-{transcript.site_code}-{transcript.id}.{fmt}"
