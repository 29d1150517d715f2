"""The workbook as a coordinator opens it: cover, formats, chart, scripts."""

from __future__ import annotations

import zipfile
from datetime import date, datetime

import openpyxl
import pytest

from tasks.summaries import run_build
from trialdm.summaries import operations
from trialdm.summaries.registry import table_names


def test_workbook_layout_formats_and_chart(app, db_session, make_participant):
    make_participant(
        "BGU",
        enrolment_date=date(2025, 1, 5),
        gender="female",
        occupation="מורה",
        marital_status="married",
        years_of_illness=4.5,
    )
    make_participant("BGU", enrolment_date=date(2025, 3, 9), gender="male", arm="control")
    make_participant("UKE", enrolment_date=date(2025, 2, 1), gender="male")
    job = operations.CreateSummaryJob("all", None, None, "Dr Coordinator").run(db_session)
    db_session.info.pop("trialdm_pending_tasks", None)
    db_session.commit()
    assert run_build(db_session, job.id) == "done"
    wb = openpyxl.load_workbook(operations.workbook_path(job))
    numbers = {
        "focus_group_characteristics": "focus_group_characterist values",
        "qualitative_participants": "qualitative_participants values",
        "baseline_characteristics": "baseline_characteristics values",
    }
    assert wb.sheetnames == [
        "Cover",
        *[s for name in table_names() for s in (name, numbers.get(name, f"{name} values"))],
    ]
    assert all(len(name) <= 31 for name in wb.sheetnames)

    cover = {
        row[0].value: row[1] for row in wb["Cover"].iter_rows(min_row=3, max_row=12) if row[0].value
    }
    assert cover["Scope"].value == "All sites (cross-site workbook)"
    assert cover["Requested by"].value == "Dr Coordinator"
    assert isinstance(cover["Data read at (UTC)"].value, datetime)
    assert cover["Software"].value.startswith("trialdm ")
    assert cover["Small counts"].value == "not suppressed"

    baseline = wb["baseline_characteristics"]
    assert baseline["A1"].value.startswith("Baseline characteristics")
    assert baseline.freeze_panes == "B5"
    assert baseline["A3"].font.b and baseline["B3"].font.b and baseline["B4"].font.b
    assert baseline.column_dimensions["A"].width > 20
    rows = {r[0].value: r for r in baseline.iter_rows(min_row=5)}
    assert rows["N"][1].value == "1" and rows["N"][1].data_type == "s"
    female = rows["Female"]
    assert female[1].value == "0 (0.0%)" and female[-1].value == "1 (33.3%)"
    assert any("sample standard deviation" in (r[0].value or "") for r in baseline.iter_rows())
    values = wb["baseline_characteristics values"]
    shares = [
        r for r in values.iter_rows(min_row=4) if r[1].value == "Female" and r[4].value == "%"
    ]
    assert all(r[5].number_format == "0.0%" for r in shares)
    assert [r[5].value for r in shares][-1] == pytest.approx(1 / 3)

    recruitment = wb["recruitment"]
    assert len(recruitment._charts) == 1
    months = [r[0] for r in recruitment.iter_rows() if isinstance(r[0].value, datetime)]
    assert [m.value.date() for m in months] == [
        date(2025, 1, 1),
        date(2025, 2, 1),
        date(2025, 3, 1),
    ]
    assert months[0].number_format == "mmm yyyy"

    listing = wb["participant_listing"]
    values = [c.value for row in listing.iter_rows() for c in row]
    assert "מורה" in values
    header = [c.value for c in listing[3]]
    assert header[:5] == ["Participant", "Study ID", "Site", "Gender", "Diagnosis"]
    first = listing[4]
    assert first[8].value is None or isinstance(first[8].value, (int, float))
    illness = [r[9] for r in listing.iter_rows(min_row=4, max_row=6) if r[9].value is not None]
    # printed as recorded: no decimals declared, so no rounding format
    assert illness[0].value == 4.5 and illness[0].number_format == "General"


def test_fast_listing_rows_read_back_as_openpyxl_writes_them(tmp_path):
    from openpyxl import Workbook

    from trialdm.summaries.listing_sheet import FastRows

    formats = [None, None, "0", "0.0", "yyyy-mm-dd", None, None]
    rows = [
        ["P1/F", " padded ", 3, 2.5, date(2024, 2, 29), None, True],
        ["P2/M", "שלום", None, 1e20, datetime(2024, 1, 1, 12, 30), "", False],
        ["P3/D", "a < b & c > d", -7, 0.0, None, "line\r\nnext", None],
        ["=SUM(A1)", "left to openpyxl", 1, 0.1, None, None, None],
        ["P1/F", "שלום", 3, 2.5, None, "a < b & c > d", None],  # texts seen before
    ]
    sheets = []
    files: list[bytes] = []
    for fast in (False, True):
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("listing")
        writer = FastRows(ws, formats, lambda text: text.startswith("=")) if fast else None
        ws.append(["header"])
        styles = {}
        for index, number_format in enumerate(formats):
            if number_format:
                styles[index] = number_format
        for number, values in enumerate(rows, start=2):
            prepared = writer.row(values, number) if writer else None
            if fast:
                assert (prepared is None) == values[0].startswith("=")
            if prepared is not None:
                ws.append(prepared)
                continue
            cells = []
            for index, value in enumerate(values):
                if index in styles and value is not None:
                    c = openpyxl.cell.WriteOnlyCell(ws, value=value)
                    c.number_format = styles[index]
                    cells.append(c)
                else:
                    cells.append(value)
            ws.append(cells)
        wb.save(tmp_path / f"{fast}.xlsx")
        read = openpyxl.load_workbook(tmp_path / f"{fast}.xlsx")["listing"]
        sheets.append(
            [[(c.value, c.number_format, c.data_type) for c in row] for row in read.iter_rows()]
        )
        with zipfile.ZipFile(tmp_path / f"{fast}.xlsx") as archive:
            files.append(archive.read("xl/worksheets/sheet1.xml"))
    assert sheets[1] == sheets[0]
    assert files[1] == files[0]  # the sheet's XML byte for byte as openpyxl writes it


def test_prepared_rows_written_together_keep_their_place(tmp_path):
    """Prepared rows are written to the sheet's file in batches: more than a batch,
    with rows left to openpyxl and empty rows among them, give the sheet openpyxl
    writes for the same values, byte for byte."""
    from openpyxl import Workbook

    from trialdm.summaries.listing_sheet import _BATCH, FastRows

    count = 2 * _BATCH + 7
    rows: list[list] = [[f"P{n}", n, n / 4] for n in range(count)]
    rows[_BATCH - 1] = ["=1+1", 1, 0.5]  # left to openpyxl, as the batch fills
    rows[_BATCH + 3] = []
    rows[-1] = ["=2+2", 2, 1.5]  # the last row, before the sheet closes
    files = []
    for fast in (False, True):
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("listing")
        writer = FastRows(ws, [None] * 3, lambda text: text.startswith("=")) if fast else None
        for number, values in enumerate(rows, start=1):
            prepared = writer.row(values, number) if writer and values else None
            ws.append(values if prepared is None else prepared)
        wb.save(tmp_path / f"{fast}.xlsx")
        with zipfile.ZipFile(tmp_path / f"{fast}.xlsx") as archive:
            files.append(archive.read("xl/worksheets/sheet1.xml"))
    assert files[1] == files[0]
    assert b'<row r="%d">' % count in files[1]


def test_sheets_written_in_a_folder_of_their_own_leave_nothing_behind(tmp_path, monkeypatch):
    """The sheets' files go to the workbook's own folder (not openpyxl's temporary
    files), which is removed after the save, and after a failure too; the sheet is
    the one openpyxl writes."""
    import tempfile

    from openpyxl import Workbook

    from trialdm.summaries.listing_sheet import FastRows, sheets_in_a_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temporary"))
    (tmp_path / "temporary").mkdir()
    files = []
    for fast in (False, True):
        wb = Workbook(write_only=True)
        with sheets_in_a_folder(wb):
            ws = wb.create_sheet("listing")
            writer = FastRows(ws, [None, None], lambda text: False) if fast else None
            if writer is not None:
                (folder,) = (tmp_path / "temporary").iterdir()
                assert len(list(folder.iterdir())) == 1  # the sheet's file
            ws.append(writer.row(["a", 1], 1) if writer else ["a", 1])
            wb.save(tmp_path / f"{fast}.xlsx")
        assert list((tmp_path / "temporary").iterdir()) == []
        with zipfile.ZipFile(tmp_path / f"{fast}.xlsx") as archive:
            files.append(archive.read("xl/worksheets/sheet1.xml"))
    assert files[1] == files[0]
    wb = Workbook(write_only=True)
    with pytest.raises(RuntimeError), sheets_in_a_folder(wb):
        FastRows(wb.create_sheet("listing"), [None], lambda text: False)
        raise RuntimeError("the build failed")
    assert list((tmp_path / "temporary").iterdir()) == []


def test_text_rows_write_the_sheet_openpyxl_writes(tmp_path):
    """Printed tables' rows of styled texts: the same sheet and styles, byte for byte,
    as cells made by ``cell`` and written by openpyxl; a formula-like text is left to
    openpyxl."""
    from openpyxl import Workbook

    from trialdm.summaries.cells import BOLD, HEADER, INDENT, NOTE, cell, needs_care, text_style
    from trialdm.summaries.listing_sheet import FastRows

    lines = [
        [("Characteristic", BOLD, HEADER), ("Site", BOLD, HEADER), None, (None, BOLD, HEADER)],
        [
            ("Age", None, INDENT),
            ("52 (48–57)", None, None),
            ("<5", None, HEADER),
            (None, None, None),
        ],
        [(" padded ", NOTE, None), ("", BOLD, None), ("a & b > c", None, None)],
        [("=1+1", None, None), ("left to openpyxl", BOLD, None)],
    ]
    files = []
    for fast in (False, True):
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("table")
        writer = FastRows(ws, [], needs_care) if fast else None
        for number, line in enumerate(lines, start=1):
            if writer is not None:
                values = [None if c is None else c[0] for c in line]
                styles = [None if c is None else text_style(ws, c[1], c[2]) for c in line]
                prepared = writer.texts(values, number, styles)
                assert (prepared is None) == (number == 4)
                if prepared is not None:
                    ws.append(prepared)
                    continue
            ws.append(
                [None if c is None else cell(ws, c[0], font=c[1], alignment=c[2]) for c in line]
            )
        wb.save(tmp_path / f"{fast}.xlsx")
        with zipfile.ZipFile(tmp_path / f"{fast}.xlsx") as archive:
            files.append([archive.read(n) for n in ("xl/worksheets/sheet1.xml", "xl/styles.xml")])
    assert files[1] == files[0]


def test_fast_rows_take_a_number_format_per_row(tmp_path):
    """The values sheets' lines carry each value's own number format."""
    from openpyxl import Workbook

    from trialdm.summaries.listing_sheet import FastRows

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("values")
    fast = FastRows(ws, [None, None], lambda text: text.startswith("="))
    lines = [("share", 0.125, "0.0%"), ("n", 3, "0"), ("mean", 2.25, "General"), ("x", 7, None)]
    for number, (label, value, number_format) in enumerate(lines, start=1):
        prepared = fast.row([label, value], number, [None, fast.style_of(number_format)])
        assert prepared is not None
        ws.append(prepared)
    wb.save(tmp_path / "values.xlsx")
    read = openpyxl.load_workbook(tmp_path / "values.xlsx")["values"]
    found = [(r[0].value, r[1].value, r[1].number_format) for r in read.iter_rows()]
    assert found == [
        ("share", 0.125, "0.0%"),
        ("n", 3, "0"),
        ("mean", 2.25, "General"),
        ("x", 7, "General"),
    ]


def test_cells_keep_their_own_style_when_styles_are_shared(tmp_path):
    """Cells of the same style share one registered style; no cell takes another's."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from trialdm.summaries.cells import BOLD, INDENT, NOTE, PRINTED, cell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("s")
    other_bold = Font(bold=True, size=20)  # equal to none of the module's fonts
    lines = [
        [cell(ws, "a", font=BOLD), cell(ws, "b", font=BOLD, alignment=INDENT)],
        [cell(ws, 1.5, "0.0"), cell(ws, 2.25, "0.00", font=NOTE)],
        [cell(ws, "=1+1"), cell(ws, "=1+1", font=BOLD), cell(ws, "x", alignment=PRINTED)],
        [cell(ws, 3.5, "0.0"), cell(ws, "t", "0.0"), cell(ws, None, "0.0", font=BOLD)],
        [cell(ws, "c", font=BOLD), cell(ws, "d", font=other_bold, alignment=Alignment(indent=3))],
        [cell(ws, 4.25, "0.00", font=NOTE), cell(ws, "plain")],
    ]
    for line in lines:
        ws.append(line)
    wb.save(tmp_path / "s.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "s.xlsx")["s"]

    def style(ref: str) -> tuple:
        c = sheet[ref]
        return (
            c.number_format,
            c.font.b,
            c.font.i,
            c.font.sz,
            c.alignment.indent,
            c.alignment.horizontal,
            c.quotePrefix,
        )

    assert style("A1") == style("A5") == ("General", True, False, None, 0, None, False)
    assert style("B1") == ("General", True, False, None, 1, None, False)
    assert style("A2") == style("A4") == ("0.0", False, False, 11, 0, None, False)
    assert style("B2") == style("A6") == ("0.00", False, True, 9, 0, None, False)
    assert style("A3") == ("General", False, False, 11, 0, None, True)
    assert style("B3") == ("General", True, False, None, 0, None, True)
    assert style("C3") == ("General", False, False, 11, 0, "center", False)
    assert style("B4") == ("General", False, False, 11, 0, None, False)  # a text: no format
    assert style("C4") == ("General", True, False, None, 0, None, False)
    assert style("B5") == ("General", True, False, 20, 3, None, False)
    assert style("B6") == ("General", False, False, 11, 0, None, False)
    assert sheet["A3"].value == "=1+1" and sheet["A3"].data_type == "s"


@pytest.mark.parametrize("language", ["de", "en"])
def test_spec_texts_translate_as_spec_text_does(app, language):
    """The catalog looked up once for many texts gives each text as ``spec_text``:
    catalog entries (a doubled percent sign kept single), event labels by their
    template, data and empty texts as they are."""
    from trialdm.core.catalog import spec_text, spec_texts
    from trialdm.core.messages import job_language

    texts = ["Age band, n (%)", "Age", "T1 (4 months)", "T0 (baseline)", "S01", " ", "", None, 3]
    with app.app_context(), job_language(language):
        text = spec_texts()
        found = [text(t) for t in texts + texts]  # the second time from its memo
        expected = [spec_text(t) for t in texts]
    assert found == expected + expected
    if language == "de":
        assert expected[:3] == ["Altersgruppe, n (%)", "Alter", "T1 (4 Monate)"]
