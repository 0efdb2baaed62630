"""The gateway's durable transaction queue: ordered, on disk, each message sent once.

OCPP asks a charge point to keep its transaction messages (Start, Stop, TransactionEvent and
the MeterValues of a transaction) while the backend is away and to deliver them in order
afterwards. The queue is an append-only journal of JSON lines: a message is written before it
is sent and marked done when the backend has answered, so it survives a restart of ampshare.
The journal also holds the backend's transaction ids (1.6 assigns them in the answer to a
StartTransaction, which later messages of that transaction must carry) and a small state
record (the open transaction), and is compacted when it has nothing left to send.

A message whose answer was lost with the connection is sent again: at least once, and exactly
once whenever the backend's answer arrives, which is what a real charge point can promise too.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: compact the journal when it has this many lines and nothing is queued
COMPACT_LINES = 2000
#: actions whose loss would lose a bill: fsynced when queued
DURABLE = frozenset({"StartTransaction", "StopTransaction", "TransactionEvent"})


@dataclass
class Entry:
    seq: int
    action: str
    payload: dict[str, Any]
    #: our key of the transaction this message belongs to (None: not transaction-bound)
    tx: str | None = None
    attempts: int = 0


@dataclass
class GatewayQueue:
    path: Path
    entries: OrderedDict[int, Entry] = field(default_factory=OrderedDict)
    tx_ids: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    _seq: int = 0
    _lines: int = 0

    @classmethod
    def open(cls, path: Path) -> GatewayQueue:
        """Read the journal (a damaged last line from a crash is skipped) and keep appending."""
        queue = cls(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                for number, line in enumerate(fh, 1):
                    try:
                        queue._replay(json.loads(line))
                    except (ValueError, KeyError, TypeError):
                        log.warning("%s: line %d unreadable, skipped", path, number)
                    queue._lines += 1
        queue._compact()
        return queue

    def _replay(self, rec: dict[str, Any]) -> None:
        op = rec["op"]
        if op == "add":
            entry = Entry(rec["n"], rec["action"], rec["payload"], rec.get("tx"))
            self.entries[entry.seq] = entry
            self._seq = max(self._seq, entry.seq)
        elif op == "done":
            self.entries.pop(rec["n"], None)
        elif op == "txid":
            self.tx_ids[rec["tx"]] = rec["id"]
        elif op == "forget":
            self.tx_ids.pop(rec["tx"], None)
        elif op == "state":
            self.state = dict(rec["state"])
        elif op == "seq":  # numbering goes on after a compaction
            self._seq = max(self._seq, int(rec["n"]))

    def _write(self, rec: dict[str, Any], *, sync: bool = False) -> None:
        line = json.dumps(rec, separators=(",", ":"), ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        self._lines += 1

    def _compact(self) -> None:
        """Rewrite the journal with only what is still needed (temp file, fsync, rename)."""
        tmp = self.path.with_suffix(".tmp")
        recs: list[dict[str, Any]] = [
            {"op": "seq", "n": self._seq},
            {"op": "state", "state": self.state},
        ]
        recs += [{"op": "txid", "tx": k, "id": v} for k, v in self.tx_ids.items()]
        recs += [
            {"op": "add", "n": e.seq, "action": e.action, "payload": e.payload, "tx": e.tx}
            for e in self.entries.values()
        ]
        with tmp.open("w", encoding="utf-8") as fh:
            for rec in recs:
                fh.write(json.dumps(rec, separators=(",", ":"), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._lines = len(recs)

    # ------------------------------------------------------------------ use

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, action: str, payload: dict[str, Any], tx: str | None = None) -> Entry:
        self._seq += 1
        entry = Entry(self._seq, action, payload, tx)
        self._write(
            {"op": "add", "n": entry.seq, "action": action, "payload": payload, "tx": tx},
            sync=action in DURABLE,
        )
        self.entries[entry.seq] = entry
        return entry

    def first(self) -> Entry | None:
        return next(iter(self.entries.values()), None)

    def done(self, entry: Entry) -> None:
        if self.entries.pop(entry.seq, None) is None:
            return
        self._write({"op": "done", "n": entry.seq})
        if not self.entries and self._lines >= COMPACT_LINES:
            self._compact()

    def set_tx_id(self, tx: str, backend_id: Any) -> None:
        self.tx_ids[tx] = backend_id
        self._write({"op": "txid", "tx": tx, "id": backend_id}, sync=True)

    def forget_tx(self, tx: str) -> None:
        """A finished transaction whose messages are all sent: its id is no longer needed."""
        if tx in self.tx_ids and not any(e.tx == tx for e in self.entries.values()):
            del self.tx_ids[tx]
            self._write({"op": "forget", "tx": tx})

    def save_state(self, state: dict[str, Any], *, sync: bool = False) -> None:
        self.state = dict(state)
        self._write({"op": "state", "state": self.state}, sync=sync)
