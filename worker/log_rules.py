"""Rules that decide which write-log entries count, without I/O.

Every worker reads the same entries in the same order and applies these rules
to each, so every worker reaches the same verdicts. An entry is a dict:

- marker: ``{"kind": "marker", "epoch": E, "master": worker_id}``
- batch:  ``{"kind": "batch", "epoch": E, "master": worker_id, "writes": [...]}``,
  each write either ``{"kind": "write", "id": write_id, "collection": name,
  "inserted": [docs], "replaced": [docs], "deleted": [ids], "answer": {...}}``
  or ``{"kind": "clear", "id": write_id, "answer": {}}``.
"""

from dataclasses import dataclass


@dataclass
class EpochState:
    """The highest valid epoch seen in the log and the master that owns it."""

    epoch: int = 0
    owner: str | None = None

    def observe(self, entry: dict) -> bool:
        """Advance over one entry and return whether it is valid.

        A marker is valid only if its epoch is higher than every earlier
        valid marker, so two masters that raced to the same epoch get one
        winner: the first in the log. Any other entry is valid only if it
        was written by the owner of the current epoch.
        """
        if entry.get("kind") == "marker":
            if entry["epoch"] > self.epoch:
                self.epoch = entry["epoch"]
                self.owner = entry["master"]
                return True
            return False
        return entry.get("epoch") == self.epoch and entry.get("master") == self.owner

    def as_dict(self) -> dict:
        return {"epoch": self.epoch, "owner": self.owner}


def marker(epoch: int, master: str) -> dict:
    return {"kind": "marker", "epoch": epoch, "master": master}
