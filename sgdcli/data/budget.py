"""Which labels and weights a table holds whole, and the least --memory that its blocks and windows need.

data/table.py cuts the passes' blocks and the page shuffle's windows out of
--memory: each holds whole chunks of every dataset read whole, in blocks of
rows that are whole read units of every dataset.  A label or weight column
read in units taller than X's (held.candidates) would make every block that
tall; it is held whole instead (data/held.py) where its values take at most
1/HELD_SHARE of --memory and the blocks of the other datasets fit beside
them (``Needs.choice``), as many such columns as fit.  What a run needs
then changes with the budget, and a refusal names the least --memory at
which the table's blocks fit under that same rule (``Needs.least``), never a
figure that the same blocks refuse in turn: a CSR matrix's heaviest row
counted, and, for a --val file's table, the training table's labels held
beside it at that figure (``least_beside``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math

from sgdcli.data import wholechunks
from sgdcli.data.held import HELD_SHARE, candidates
from sgdcli.data.textlabels import CODE_BYTES
from sgdcli.sizes import MemoryShort


def combined_unit(units: list[int]) -> int:
    """The read unit of datasets read side by side in ``units`` rows each: their least common multiple, or the
    largest where that is more than 8 of it (whose chunks are then read in part, some more than once)."""
    lcm = math.lcm(*units)
    return lcm if lcm <= 8 * max(units) else max(units)


@dataclasses.dataclass
class Needs:
    """What a table's blocks take, by dataset (roles "x", "y", "w"; each column as read when not held)."""

    per_row: int  # bytes a row of the blocks takes, every buffer and its bookkeeping counted
    n_rows: int
    chunk_rows: int  # X's chunk height, of which the passes' blocks are whole multiples
    units: dict[str, int]  # each dataset's read unit
    chunks: dict[str, list]  # each dataset's chunks read whole (data/wholechunks.py Chunk; X's rows None)
    candidates: list[str]  # the columns that may be held (held.candidates), the first preferred
    itemsize: int  # bytes a row of a column held takes
    heaviest: int = 0  # what a CSR matrix's heaviest row takes in flight (csrblocks.py): no block holds less

    def need(self, held) -> int:
        """The --memory that the blocks and windows need with the columns ``held`` held whole: those columns,
        one chunk of every dataset read whole, and two blocks of whole chunks (or units) of the others' rows."""
        unit = combined_unit([u for role, u in self.units.items() if role not in held])
        found = [c._replace(rows=None) if role in held else c for role, cs in self.chunks.items() for c in cs]
        blocks = max([max(c.nbytes, self.per_row * (c.rows or 0)) for c in found]
                     + [self.per_row * max(unit, self.chunk_rows), self.heaviest])
        return self.held_bytes(held) + blocks

    def held_bytes(self, held) -> int:
        return len(held) * self.n_rows * self.itemsize

    def choices(self) -> list[tuple[str, ...]]:
        """Every set of the candidates, the largest first (of one size, in the candidates' order)."""
        return [held for size in range(len(self.candidates), -1, -1)
                for held in itertools.combinations(self.candidates, size)]

    def choice(self, memory: int) -> list[str]:
        """The columns held at ``memory``: the largest set of candidates whose values fit 1/HELD_SHARE of it and
        beside which the blocks fit it; none where none does (the blocks are then refused, or fit without)."""
        for held in self.choices():
            if self.held_bytes(held) <= memory // HELD_SHARE and self.need(held) <= memory:
                return list(held)
        return []

    def least(self, floor: int = 0, rule: "Needs | None" = None, reserved: int = 0) -> int:
        """The least --memory, in whole MiB, of at least ``floor``, that holds these blocks with the columns held
        there by ``rule``'s ``choice`` (the table's own, of the epochs' blocks; default: these), beside
        ``reserved`` bytes that another table holds: of what each set of columns held needs, at the least
        --memory whose share holds them, the least that does."""
        rule = rule or self
        options = sorted({-(-(max(floor - reserved, HELD_SHARE * self.held_bytes(held), self.need(held),
                                  rule.need(held)) + reserved) >> 20) << 20 for held in self.choices()})
        # (every candidate held is one: its figure holds them by both rules' needs, so the rule holds them there)
        return next(m for m in options if self.need(rule.choice(m - reserved)) <= m - reserved)

    @classmethod
    def beside_x(cls, x, per_row: int, n_rows: int, units: dict[str, int], chunks: dict[str, list], itemsize: int,
                 heaviest: int = 0) -> "Needs":
        """The needs of ``n_rows`` rows of X read by the reader ``x``, ``per_row`` bytes a row of the blocks,
        beside the columns whose read units and chunks read whole are ``units`` and ``chunks`` (by role)."""
        return cls(per_row, n_rows, int(x.layout.chunks[0]) if x.layout.chunks else 1, {"x": x.unit_rows, **units},
                   {"x": [c._replace(rows=None) for c in wholechunks.of_reader(x)], **chunks},
                   candidates(units, x.unit_rows), itemsize, heaviest)

    @classmethod
    def of_table(cls, table, per_row: int, itemsize: int, heaviest: int = 0) -> "Needs":
        """``table``'s needs (data/table.py Table, with ``per_row`` bytes a row of its blocks)."""
        return cls.beside_x(table.X, per_row, table.n_rows, {role: r.unit_rows for role, r in table.unheld.items()},
                            {role: wholechunks.of_reader(r) for role, r in table.unheld.items()}, itemsize, heaviest)


def after_names(short: MemoryShort, where: str, rows: int, per_row: int, x, w, itemsize: int) -> int:
    """The least --memory that trains a table of ``rows`` rows whose labels' names pass was refused ``short``
    (a chunk of names ``where``, of ``short.rows`` rows, that --memory cannot hold; read as codes, it takes
    what the pass took and the codes' arrays, textlabels.py CODE_BYTES): the pass, and the epochs' blocks
    (``per_row`` bytes a row) and windows with the labels held whole or read in blocks of that chunk's rows
    (``itemsize`` bytes a row held), as the readers that the epochs would read X and the weights with (``x``,
    ``w``: None without weights) read them."""
    units = {"y": short.rows, **({"w": w.unit_rows} if w is not None else {})}
    chunks = {"y": [wholechunks.Chunk(where, short.rows, short.need + short.rows * CODE_BYTES)],
              "w": wholechunks.of_reader(w)}
    return Needs.beside_x(x, per_row, rows, units, chunks, itemsize).least(floor=short.need)


def least_beside(needs: Needs, rule: Needs, floor: int, beside) -> int:
    """``needs.least`` (``rule``'s choices) beside the table ``beside`` (data/table.py Table; None: none), whose
    labels held stay in --memory meanwhile (a --val file's blocks beside the training table): the least
    --memory of at least ``floor`` at which they fit beside what ``beside`` holds there (``held_at``, which
    only grows with --memory: each figure is a floor for the next, until what it holds no longer grows)."""
    reserved = 0
    while True:
        memory = needs.least(floor, rule, reserved)
        more = beside.held_at(memory) if beside is not None else 0
        if more <= reserved:
            return memory
        reserved = more
