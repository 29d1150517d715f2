"""A statement over a population written as SQL text, with typed parameters and
typed result columns.

SQLAlchemy compiles a statement the first time a process runs it: a table's single
pass (:meth:`~trialdm.summaries.engine.aggregates.SpecAggregates.load_columns`, 20
to 30 aggregates over one table) took 1-2 ms of a fresh worker's first build per
table. The single pass is a flat list of aggregates over the population's table, so
it is written here as the SQL SQLAlchemy printed for it; compiling a text is a scan
for its parameters. The parameters keep the types of the columns they are compared
with and the result columns the types of the expressions they replace (sum and min
of a column: the column's; counts: Integer; a cast: Float), so values are bound and
read back as before (a date as a date on SQLite, a decimal as a decimal).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Float, Integer, bindparam, column, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

COUNT = Integer()
FLOAT = Float()


class TextSelect:
    """The select list, GROUP BY and ORDER BY of one statement over ``population``
    (an alias of a temporary table), written for ``dialect``'s quoting."""

    def __init__(self, population: Any, dialect: Dialect) -> None:
        self.population = population
        self._quote = dialect.identifier_preparer.quote
        self._alias = self._quote(population.name)
        self.source = f"{self._quote(population.element.name)} AS {self._alias}"
        self._items: list[str] = []
        self._types: list[TypeEngine[Any]] = []
        self._binds: list[Any] = []

    def column(self, name: str) -> str:
        return f"{self._alias}.{self._quote(name)}"

    def type_of(self, name: str) -> TypeEngine[Any]:
        return self.population.c[name].type

    def bind(self, value: Any, type_: TypeEngine[Any]) -> str:
        name = f"p{len(self._binds)}"
        self._binds.append(bindparam(name, value, type_=type_))
        return f":{name}"

    def equals(self, name: str, value: Any) -> str:
        """``column = value`` as SQLAlchemy writes ``column == value`` (IS NULL for None)."""
        if value is None:
            return f"{self.column(name)} IS NULL"
        return f"{self.column(name)} = {self.bind(value, self.type_of(name))}"

    def listed(self, name: str, values: Sequence[Any]) -> str:
        """``values`` as parameters typed as the column ``name``, for an IN list."""
        type_ = self.type_of(name)
        return ", ".join(self.bind(value, type_) for value in values)

    def add(self, sql: str, type_: TypeEngine[Any]) -> None:
        self._items.append(sql)
        self._types.append(type_)

    def statement(self, group_by: Sequence[str], order_by: Sequence[str]) -> Any:
        """The statement: the columns added, grouped by the columns ``group_by`` and
        ordered by the SQL expressions ``order_by``; its rows are read by position."""
        sql = f"SELECT {', '.join(self._items)} \nFROM {self.source}"
        if group_by:
            sql += f" GROUP BY {', '.join(self.column(name) for name in group_by)}"
        if order_by:
            sql += f" ORDER BY {', '.join(order_by)}"
        return typed_text(sql, self._types, self._binds)


def typed_text(sql: str, types: Sequence[TypeEngine[Any]], binds: Sequence[Any] = ()) -> Any:
    """``sql`` with its parameters, its result columns read by position as ``types``."""
    typed = [column(f"c{i}", type_) for i, type_ in enumerate(types)]
    return text(sql).bindparams(*binds).columns(*typed)
