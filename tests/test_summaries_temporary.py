"""Each table's population is written once per computation into a temporary table
kept per name: the site scope still applies to it, a second computation on one
connection writes it again, and a second build in the same process compiles no
statement again."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats

from tasks.summaries import run_build
from trialdm.core.scoping import SiteScope, scoped_to
from trialdm.participants.vocabulary import diagnosis_vocabulary
from trialdm.summaries import operations
from trialdm.summaries.engine import compute_table
from trialdm.summaries.engine.temporary import drop_temporaries
from trialdm.summaries.registry import specs
from trialdm.summaries.spec import BuildContext

AGGREGATED = ("baseline_characteristics", "participant_listing", "qualitative_participants")


def _context(session) -> BuildContext:
    return BuildContext(
        session=session,
        read_at=datetime(2026, 1, 1, tzinfo=UTC),
        diagnosis_vocabulary=diagnosis_vocabulary(current_app.config["DIAGNOSIS_VOCABULARY"]),
    )


def _people(make_participant) -> None:
    """Two service users at BU, three at ULM with an occupation only ULM has."""
    for _ in range(2):
        make_participant("BU", enrolment_date=date(2025, 4, 2), occupation="teacher")
    for _ in range(3):
        make_participant("ULM", enrolment_date=date(2025, 4, 2), occupation="ULM-ONLY-JOB")


def _total_n(table: dict[str, Any]) -> Any:
    row = next(r for r in table["rows"] if r["label"] == "N")
    return row["cells"][-1]["values"][0]


def test_a_site_scoped_table_reads_its_sites_people_only(app, db_session, make_participant):
    _people(make_participant)
    ctx = _context(db_session)
    try:
        with scoped_to(SiteScope(codes=frozenset({"BU"}))):
            tables = {name: compute_table(specs()[name], ctx).as_json() for name in AGGREGATED}
    finally:
        drop_temporaries(ctx)
    assert _total_n(tables["baseline_characteristics"]) == 2
    assert _total_n(tables["participant_listing"]) == 2
    for table in tables.values():
        assert "ULM-ONLY-JOB" not in str(table)
        assert "ULM" not in {c["label"] for c in table["columns"]}


def test_the_same_table_in_two_scopes_in_one_build(app, db_session, make_participant):
    """The temporary table of a spec is written again when the scope changes."""
    _people(make_participant)
    ctx = _context(db_session)
    listing = specs()["participant_listing"]
    try:
        found = []
        for site in ("BU", "ULM", "BU"):
            with scoped_to(SiteScope(codes=frozenset({site}))):
                found.append(_total_n(compute_table(listing, ctx).as_json()))
    finally:
        drop_temporaries(ctx)
    assert found == [2, 3, 2]


def test_a_second_computation_on_one_connection_writes_the_table_again(
    app, db_session, make_participant
):
    """A caller that computes twice without dropping the temporary tables gets the
    data as they are now, not the earlier rows, nor both."""
    _people(make_participant)
    listing = specs()["participant_listing"]
    with scoped_to(SiteScope(every_site=True)):
        first = _total_n(compute_table(listing, _context(db_session)).as_json())
        make_participant("BU", enrolment_date=date(2025, 4, 3))
        second = _total_n(compute_table(listing, _context(db_session)).as_json())
    assert (first, second) == (5, 6)


TEXT = "sent as SQL text"


def _build(session) -> list[tuple[Any, str]]:
    """Build the cross-site workbook as the worker does: (cache use, statement) of
    each statement it ran."""
    job = operations.CreateSummaryJob("all", None, None, "test").run(session)
    session.info.pop("trialdm_pending_tasks", None)
    session.commit()
    found: list[tuple[Any, str]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many) -> None:
        # A statement sent as SQL text (exec_driver_sql) is never compiled.
        hit = getattr(context, "cache_hit", None) if context.compiled is not None else TEXT
        found.append((hit, statement))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", record)
    try:
        assert run_build(session, job.id) == "done"
    finally:
        event.remove(connection, "before_cursor_execute", record)
    return found


def test_a_second_build_in_the_process_compiles_no_statement(
    app, db_session, make_participant, monkeypatch
):
    """A worker stays up and builds many workbooks: from its second build on, every
    statement is found in SQLAlchemy's compiled cache (only DDL, transaction control
    and PRAGMAs have no cache key) or sent as SQL text, and the temporary tables' DDL,
    which SQLAlchemy would compile on each execution, is not compiled again either."""
    from sqlalchemy.sql.compiler import DDLCompiler

    # Every progress step written, so that a build's count does not depend on its time.
    monkeypatch.setattr(operations, "PROGRESS_SECONDS", 0)
    _people(make_participant)
    first = _build(db_session)
    ddl_compiled: list[str] = []
    compile_ddl = DDLCompiler.__init__

    def counting(self: Any, dialect: Any, statement: Any, *args: Any, **kwargs: Any) -> None:
        ddl_compiled.append(type(statement).__name__)
        compile_ddl(self, dialect, statement, *args, **kwargs)

    monkeypatch.setattr(DDLCompiler, "__init__", counting)
    second = _build(db_session)
    assert ddl_compiled == []
    assert len(second) == len(first)
    compiled = [statement for hit, statement in second if hit == CacheStats.CACHE_MISS]
    assert compiled == []
    queries = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE")
    keyless = [s for hit, s in second if hit in (CacheStats.NO_CACHE_KEY, None)]
    assert not [s for s in keyless if s.lstrip().upper().startswith(queries)]


def test_one_table_object_per_name_and_columns():
    """The same name and columns give the same Table (a statement over it keeps its
    cache key); other columns, or another long name with the same beginning, give
    another table name."""
    from sqlalchemy import Integer, String, column

    from trialdm.core.temporary import temporary_table

    pid, site = column("pid", Integer), column("site", String())
    first = temporary_table("summary_x", [pid, site])
    assert temporary_table("summary_x", [pid, site]) is first
    assert temporary_table("summary_x", [pid]).name != first.name
    long = "summary_" + "y" * 60
    assert temporary_table(long + "a", [pid]).name != temporary_table(long + "b", [pid]).name
    assert len(temporary_table(long + "a", [pid]).name) <= 63  # PostgreSQL's longest name


def test_a_population_is_written_by_its_own_statement(app, db_session, make_participant):
    """For every site the INSERT selects the population's statement itself, not a
    SELECT of it as a subquery; a built-in population for one site is that subquery
    filtered on its site column."""
    from tests.sql_helpers import recorded

    _people(make_participant)
    ctx = _context(db_session)
    spec = specs()["recruitment"]
    try:
        with recorded() as sent_everyone:
            everyone = compute_table(spec, ctx).as_json()
        with scoped_to(SiteScope(codes=frozenset({"BU"}))), recorded() as sent_one:
            one = compute_table(spec, ctx).as_json()
    finally:
        drop_temporaries(ctx)

    def selected(sent: list[tuple[str, Any]]) -> str:
        """What the population's INSERT selects first."""
        sql = next(sql for sql, _ in sent if sql.startswith("INSERT INTO summary_recruitment"))
        return sql.split(") SELECT ", 1)[1]

    assert selected(sent_everyone).startswith("participants.id AS pid")
    assert selected(sent_one).startswith("anon_1.pid")
    sites = [c for c in everyone["columns"] if c["label"] != "Total"]
    assert len(sites) > len([c for c in one["columns"] if c["label"] != "Total"])
    assert "ULM" not in str(one["columns"])
