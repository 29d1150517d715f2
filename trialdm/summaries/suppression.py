"""Small-cell suppression that holds against subtraction.

With a threshold k (setting ``SUPPRESS_BELOW``), a count of 1 to k-1 people is
printed ``<k`` (primary suppression), and so is a statistic (mean, SD, median,
range) computed from fewer than k people, because a minimum or maximum of a few
people is one person's value. Hiding one cell is not enough when the others
of a sum are printed: a site's categories add up to its N, the sites add up to
the total column. So every sum that has one hidden term gets a second one
(complementary suppression, printed ``[c]``), preferring the smallest non-zero
count; then an exact check over all sums together (Gaussian elimination over
the rationals) finds any hidden count still determined by the printed ones and
hides more until none is. Listings and charts of individual people are left
out of a suppressed table.

The sums a table publishes, for this module:

- the column Ns (the ``n`` rows and the total of a breakdown cell);
- the lines of a single-valued categorical variable (categories, "Other",
  "Missing") in a column, which add up to the column N when they do;
- the people a statistic is of and its "Missing" line, which add up to the
  column N (so a mean of 2 people hides that 2, too);
- the parts of a breakdown cell (``4 (f=3, m=1)``), which add up to its total;
- every row across the group columns, which add up to the total column when
  the table has one (the groups partition the people);
- a count row and the count rows right under it when they add up to it in
  every column (Screened = Eligible + Not eligible + Declined).

Each of these is modelled as known to a reader whenever it is shown, even where
a table prints it only indirectly, which errs on the side of hiding more. The
module knows the result classes only by their fields; the engine calls it with
its own function for re-printing a breakdown cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trialdm.summaries.engine.results import Cell, TableResult

COMPLEMENT = "[c]"
PARTITION_STATS = ("n_pct",)
STATISTIC_STATS = ("mean_sd", "mean_sd_range", "mean_range", "median_iqr", "median_range")
COLUMN_N_STATS = ("n", "breakdown")


@dataclass(eq=False)
class Atom:
    """One published number that may be hidden."""

    # the count: of people in a cell, or behind a statistic (who have a value)
    value: int
    state: str = ""  # "" shown | primary | complement


@dataclass
class Relation:
    """``sum(members) == margin`` as printed."""

    members: list[Atom]
    margin: Atom

    @property
    def atoms(self) -> list[Atom]:
        return [*self.members, self.margin]


@dataclass
class Layout:
    """The atoms of one table and where they are printed."""

    column_n: list[Atom]
    main: dict[tuple[int, int], Atom] = field(default_factory=dict)
    parts: dict[tuple[int, int, str], Atom] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)

    def all_atoms(self) -> list[Atom]:
        seen: dict[int, Atom] = {}
        for atom in [*self.column_n, *self.main.values(), *self.parts.values()]:
            seen.setdefault(id(atom), atom)
        return list(seen.values())


def footnote(k: int, left_out: Sequence[str] = ()) -> str:
    text = (
        f"<{k}: fewer than {k} people (1 to {k - 1}), or a statistic of fewer than {k} "
        f"people, not shown to protect the participants; {COMPLEMENT}: not shown so "
        f"that those figures cannot be worked out from the totals (percentages are "
        f"left out in a column whose N is not shown)."
    )
    if left_out:
        things = " and ".join(left_out)
        text += f" {things[0].upper()}{things[1:]} {_verb(left_out)} left out."
    return text


def _verb(items: Sequence[str]) -> str:
    return "are" if len(items) > 1 else "is"


def suppress_small_cells(
    result: TableResult,
    k: int,
    breakdown_text: Callable[[str, Sequence[tuple[str, str]]], str],
) -> TableResult:
    """Hide small cells of ``result`` in place (and return it); k <= 1 hides nothing."""
    if k <= 1:
        return result
    layout = _layout(result)
    for atom in layout.all_atoms():
        if 0 < atom.value < k:
            atom.state = "primary"
    _complement(layout)
    _print(result, layout, k, breakdown_text)
    left_out = []
    if result.listing is not None:
        left_out.append("the listing of individual people")
    if result.chart is not None:
        left_out.append("the chart (monthly counts may be small)")
    result.listing = None
    result.chart = None
    result.suppress_below = k
    result.footnotes = [*result.footnotes, footnote(k, left_out)]
    return result


# ------------------------------------------------------------------ structure


def _layout(result: TableResult) -> Layout:
    columns = result.columns
    layout = Layout([Atom(column.n) for column in columns])
    blocks: dict[int, list[int]] = {}
    for r, row in enumerate(result.rows):
        for c, cell in enumerate(row.cells):
            if row.stat in COLUMN_N_STATS and cell.count is not None:
                layout.main[(r, c)] = layout.column_n[c]
            elif cell.count is not None:
                layout.main[(r, c)] = Atom(cell.count)
            elif cell.basis is not None:
                layout.main[(r, c)] = Atom(cell.basis)
        # Parts not printed are zeros a reader knows; only printed parts are terms.
        for c, cell in enumerate(row.cells):
            for label, count in cell.parts:
                layout.parts[(r, c, label)] = Atom(count)
        if row.stat in PARTITION_STATS and row.kind in ("category", "missing"):
            blocks.setdefault(row.block, []).append(r)
        if row.stat in STATISTIC_STATS and row.kind in ("stat", "missing"):
            # people with a value + the "Missing" line = the column N
            blocks.setdefault(row.block, []).append(r)
    relations = layout.relations
    for lines in blocks.values():
        for c in range(len(columns)):
            members = [layout.main[(r, c)] for r in lines if (r, c) in layout.main]
            if len(members) < 2 and result.rows[lines[0]].stat in STATISTIC_STATS:
                continue  # no "Missing" line: how many have a value is not known
            if members and sum(a.value for a in members) == layout.column_n[c].value:
                relations.append(Relation(members, layout.column_n[c]))
    relations += _count_totals(result, layout)
    for (r, c), atom in layout.main.items():
        labels = [label for (rr, cc, label) in layout.parts if (rr, cc) == (r, c)]
        members = [layout.parts[(r, c, label)] for label in labels]
        if members and sum(a.value for a in members) == atom.value:
            relations.append(Relation(members, atom))
    if result.has_total and len(columns) > 1:
        last = len(columns) - 1
        relations.append(Relation(layout.column_n[:last], layout.column_n[last]))
        for r, row in enumerate(result.rows):
            if row.stat in COLUMN_N_STATS:
                continue  # the column Ns, added above
            if (r, last) in layout.main:
                members = [layout.main[(r, c)] for c in range(last) if (r, c) in layout.main]
                relations.append(Relation(members, layout.main[(r, last)]))
        for (r, c, label), atom in list(layout.parts.items()):
            if c == last:
                found = [layout.parts.get((r, g, label)) for g in range(last)]
                members = [a for a in found if a is not None]
                relations.append(Relation(members, atom))
    return layout


def _count_totals(result: TableResult, layout: Layout) -> list[Relation]:
    """A count row equal, in every column, to the sum of the count rows right
    under it (Screened = Eligible + Not eligible + Declined; Enrolled = the two
    arms) is their total to a reader, whether or not the spec says so."""
    rows = result.rows
    found: list[Relation] = []
    width = len(result.columns)

    def counted(r: int) -> bool:
        return rows[r].stat == "count" and all((r, c) in layout.main for c in range(width))

    for top in range(len(rows)):
        if not counted(top):
            continue
        end = top + 1
        while end < len(rows) and counted(end):
            end += 1
            run = range(top + 1, end)
            if len(run) < 2:
                continue
            if all(
                sum(layout.main[(r, c)].value for r in run) == layout.main[(top, c)].value
                for c in range(width)
            ):
                for c in range(width):
                    members = [layout.main[(r, c)] for r in run]
                    found.append(Relation(members, layout.main[(top, c)]))
                break
    return found


# ------------------------------------------------------------------ deciding


def _complement(layout: Layout) -> None:
    """Hide more until no sum has a single hidden term and no hidden count is
    determined by the printed ones."""
    budget = len(layout.all_atoms()) + 1
    while budget:
        budget -= 1
        _inherit(layout)
        if _second_terms(layout.relations):
            continue
        determined = determined_counts(layout.relations)
        if not determined or not _widen(layout.relations, determined):
            return


def _inherit(layout: Layout) -> None:
    """A hidden breakdown cell prints none of its parts."""
    for (r, c, _label), part in layout.parts.items():
        if not part.state and layout.main[(r, c)].state:
            part.state = "with_cell"


def _second_terms(relations: Iterable[Relation]) -> bool:
    changed = False
    for relation in relations:
        hidden = [a for a in relation.atoms if a.state]
        if len(hidden) == 1:
            pick = _candidate(relation)
            if pick is not None:
                pick.state = "complement"
                changed = True
    return changed


def _candidate(relation: Relation) -> Atom | None:
    """The smallest non-zero shown term, else a shown zero, else the margin."""
    shown = [a for a in relation.members if not a.state]
    for pool in ([a for a in shown if a.value > 0], shown):
        if pool:
            return min(pool, key=lambda a: a.value)
    return None if relation.margin.state else relation.margin


def _widen(relations: Sequence[Relation], determined: set[int]) -> bool:
    for relation in relations:
        if any(id(a) in determined for a in relation.atoms):
            pick = _candidate(relation)
            if pick is not None:
                pick.state = "complement"
                return True
    return False


def determined_counts(relations: Sequence[Relation]) -> set[int]:
    """Ids of hidden count atoms whose value the printed numbers fix.

    Hidden x is fixed iff the unit vector of x lies in the row space of the
    sums restricted to the hidden terms: in the reduced row echelon form, some
    row is that unit vector.
    """
    hidden: dict[int, int] = {}
    rows: list[dict[int, Fraction]] = []
    for relation in relations:
        row: dict[int, Fraction] = {}
        for atom, sign in [*((m, 1) for m in relation.members), (relation.margin, -1)]:
            if atom.state:
                index = hidden.setdefault(id(atom), len(hidden))
                row[index] = row.get(index, Fraction(0)) + sign
        row = {i: v for i, v in row.items() if v}
        if row:
            rows.append(row)
    pivots: list[tuple[int, dict[int, Fraction]]] = []
    for row in rows:
        for pivot, basis in pivots:
            if pivot in row:
                row = _eliminate(row, basis, pivot)
        if not row:
            continue
        pivot = min(row)
        scale = row[pivot]
        row = {i: v / scale for i, v in row.items()}
        pivots = [(p, _eliminate(b, row, pivot) if pivot in b else b) for p, b in pivots]
        pivots.append((pivot, row))
    by_index = {index: atom_id for atom_id, index in hidden.items()}
    return {by_index[pivot] for pivot, row in pivots if len(row) == 1}


def _eliminate(
    row: dict[int, Fraction], basis: dict[int, Fraction], pivot: int
) -> dict[int, Fraction]:
    factor = row[pivot]
    result = dict(row)
    for i, v in basis.items():
        result[i] = result.get(i, Fraction(0)) - factor * v
    return {i: v for i, v in result.items() if v}


# ------------------------------------------------------------------ printing


def _mark(atom: Atom, k: int) -> str:
    return f"<{k}" if atom.state == "primary" else COMPLEMENT


def _hidden_cell(cell: Cell, mark: str) -> None:
    cell.text = mark
    cell.values = (mark,)
    cell.formats = ("@",)
    cell.names = cell.names[:1] or ("value",)
    cell.count = cell.basis = None
    cell.parts = ()


def _print(
    result: TableResult,
    layout: Layout,
    k: int,
    breakdown_text: Callable[[str, Sequence[tuple[str, str]]], str],
) -> None:
    printed_n = result.n_in_header or any(row.stat in COLUMN_N_STATS for row in result.rows)
    # Percentages of the non-missing give back N less the missing line: where that
    # line is hidden, its block prints counts only.
    missing_hidden: set[tuple[int, int]] = set()
    if result.percent_of == "non_missing":
        for r, row in enumerate(result.rows):
            for c in range(len(row.cells)):
                atom = layout.main.get((r, c))
                if row.kind == "missing" and atom is not None and atom.state:
                    missing_hidden.add((row.block, c))
    for column, atom in zip(result.columns, layout.column_n, strict=True):
        if atom.state:
            column.n_hidden = _mark(atom, k)
        elif not printed_n:
            # Only an N the table prints is one the sums above account for.
            column.n_hidden = ""
    for r, row in enumerate(result.rows):
        for c, cell in enumerate(row.cells):
            atom = layout.main.get((r, c))
            if atom is not None and atom.state:
                _hidden_cell(cell, _mark(atom, k))
                continue
            base_hidden = layout.column_n[c].state or (row.block, c) in missing_hidden
            if base_hidden and cell.names == ("n", "%") and cell.count:
                # n and % together give the hidden base: the count alone is printed.
                cell.text, cell.values, cell.formats = str(cell.count), (cell.count,), ("0",)
                cell.names = ("n",)
                continue
            if not cell.parts:
                continue
            shown: list[tuple[str, str]] = []
            values: list[object] = [cell.values[0]]
            for label, count in cell.parts:
                part = layout.parts[(r, c, label)]
                printed = _mark(part, k) if part.state else str(count)
                shown.append((label, printed))
                values.append(printed if part.state else count)
            cell.text = breakdown_text(str(cell.values[0]), shown)
            cell.values = tuple(values)
            cell.formats = tuple("@" if isinstance(v, str) else "0" for v in values)
