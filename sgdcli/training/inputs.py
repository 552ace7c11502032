"""The files a training run reads, which must stay the files it opened until its model is written.

The training file and ``--val`` are read from the first pass to the last
epoch; ``--init`` at the start.  A file cut short or rewritten under the run
would be trained on as rows of zeros or of other data (data/identity.py), so
the run compares each with the file at its path before every pass's block,
at every safe point, before every checkpoint (none is ever saved of a state
that trained on changed data) and before the model is written, and stops at
the first that changed: RuntimeFailure, exit 1.  A checkpoint saved before
the change continues the data as it was; ``--resume`` refuses it against
the changed file, as for any data changed between runs.
"""

from __future__ import annotations

from sgdcli.data.identity import FileIdentity
from sgdcli.errors import RuntimeFailure


class Inputs:
    """The input files of a run, each with the name a message gives it and its identity when it was opened."""

    def __init__(self, table=None, val_table=None):
        self.watched: list[tuple[str, FileIdentity]] = []
        if table is not None:
            self.watch(table.path, table.identity)
        if val_table is not None:
            self.watch(f"--val {val_table.path}", val_table.identity)

    def watch(self, name: str, identity: FileIdentity | None) -> None:
        if identity is not None:
            self.watched.append((name, identity))

    def check(self) -> None:
        """RuntimeFailure naming the first file that changed since it was opened, and how; nothing otherwise."""
        for name, seen in self.watched:
            what = seen.change()
            if what is not None:
                raise RuntimeFailure(f"{name}: {what}; the model was not written; run again once its writer has "
                                     "finished")
