"""Frequencies of several columns of a population from one statement.

Counts by value (a categorical row without fixed categories) and the quartiles (a
median row) each grouped the whole population by (key, value): one sort of every
person per row. When a table has two such columns or more, one statement groups
the population by all of them and the keys at once, and each column's frequencies
by (key, value) are the sums of those rows (whole numbers: any order gives the
same), summed in the same statement. The combinations are at most the people,
usually far fewer (an age, an employment status, an arm). The quartiles are then
read from the frequencies as the SQL of
:meth:`SpecAggregates._quartiles_statement` reads them: the least value whose
running count reaches each rank, interpolated in the same order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Numeric
from sqlalchemy.engine import Dialect

from trialdm.summaries.engine.textual import COUNT, TextSelect, typed_text

Counts = dict[tuple, dict[Any, int]]


def frequency_statement(
    population: Any, keys: Sequence[Any], names: Sequence[str], dialect: Dialect
) -> Any:
    """(column index, keys, one value column per name, count): the population grouped
    by every column and the keys once (the values first: the sort then compares the
    most varied columns first), then each column's frequencies by (key, value) summed
    from those combinations in SQL, a few rows per group and value to fetch (the
    combinations are as many as the people in small groups). Written as SQL text
    (:mod:`.textual`: compiled in a fraction of the time of the expressions)."""
    sql = TextSelect(population, dialect)
    key_names = [k.key for k in keys]
    combos = ", ".join(
        [
            *(f"{sql.column(name)} AS k{i}" for i, name in enumerate(key_names)),
            *(f"{sql.column(name)} AS v{i}" for i, name in enumerate(names)),
            "count(*) AS c",
        ]
    )
    grouped = ", ".join(sql.column(name) for name in [*names, *key_names])
    head = f"WITH combos AS  (SELECT {combos} \nFROM {sql.source} GROUP BY {grouped}) "
    ckeys = [f"combos.k{i}" for i in range(len(keys))]
    types = [sql.type_of(name) for name in names]
    parts = []
    for i in range(len(names)):
        # typed NULLs: PostgreSQL types each column of a UNION from its first rows
        shown = [
            f"combos.v{j}"
            if j == i
            else f"CAST(NULL AS {dialect.type_compiler_instance.process(t)})"
            for j, t in enumerate(types)
        ]
        parts.append(
            f"SELECT {', '.join([str(i), *ckeys, *shown, 'sum(combos.c)'])} \nFROM combos "
            f"GROUP BY {', '.join([f'combos.v{i}', *ckeys])}"
        )
    result_types = [COUNT, *(k.type for k in keys), *types, COUNT]
    return typed_text(head + " UNION ALL ".join(parts), result_types)


def split(
    rows: Iterable[Sequence[Any]], width: int, names: Sequence[str], total: tuple | None
) -> dict[str, Counts]:
    """name -> key -> value -> count from the rows of :func:`frequency_statement`
    (``width`` keys; ``total`` the total column's key, or None when there is none;
    without keys every row is the total's)."""
    found: dict[str, Counts] = {name: defaultdict(lambda: defaultdict(int)) for name in names}
    for row in rows:
        i = int(row[0])
        key = tuple(row[1 : width + 1]) if width else (total or ())
        value, count = row[width + 1 + i], int(row[-1])
        found[names[i]][key][value] += count
        if total and width:
            found[names[i]][total][value] += count
    return found


def numeric(column: Any) -> bool:
    """Whether a column's values read as numbers in Python as CAST(… AS FLOAT) reads
    them (integers, decimals, floats); text would not (SQLite casts 'abc' to 0)."""
    return isinstance(column.type, (Integer, Numeric))


def interpolated(low: float, high: float, remainder: int) -> float:
    """The quartile at ``remainder`` quarters of the way from the value at its rank
    (``low``) to the next (``high``), as ``statistics.quantiles(method="inclusive")``."""
    return low + (remainder / 4) * (high - low)


def quartiles_of(
    counts: Mapping[tuple, Mapping[Any, int]],
) -> dict[tuple, tuple[float, float, float]] | None:
    """key -> (Q1, median, Q3) from the frequencies by value (None values left out),
    or None when a value is not a number (the statement reads it instead)."""
    result = {}
    for key, per_value in counts.items():
        by_x: dict[float, int] = defaultdict(int)
        for value, count in per_value.items():
            if value is None:
                continue
            if not isinstance(value, (int, float, Decimal)) or isinstance(value, bool):
                return None
            by_x[float(value)] += count
        cnt = sum(by_x.values())
        if not cnt:
            continue
        xs = sorted(by_x)
        running = []
        upto = 0
        for x in xs:
            upto += by_x[x]
            running.append((upto, x))
        qs = []
        for k in (1, 2, 3):
            position = (cnt - 1) * k
            low_rank = position // 4 + 1
            low = next(x for up, x in running if up >= low_rank)
            remainder = position % 4
            if remainder:
                high = next(x for up, x in running if up >= low_rank + 1)
                low = interpolated(low, high, remainder)
            qs.append(low)
        result[key] = (qs[0], qs[1], qs[2])
    return result
