"""Offline authorization: a strict ocpp-rpc box keeps its own local list, which follows the users
table in small differential updates, and authorizes from it while ampshare is down."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from manager_process import ManagerProcess
from tools import INTEROP, require_node

pytestmark = pytest.mark.slow


class ListBox:
    """tests/interop/listbox.js as a child process; every read is bounded."""

    def __init__(self, port: int, identity: str, version: str) -> None:
        self.proc = subprocess.Popen(
            [require_node(), "listbox.js", str(port), identity, version],
            cwd=INTEROP, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lists: list[dict[str, Any]] = []

    def next(self, kind: str, limit: int = 200) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for _ in range(limit):  # the script itself exits after 90 s
            line = self.proc.stdout.readline()
            assert line, f"listbox.js ended before {kind!r}"
            event = json.loads(line)
            assert event["event"] not in ("error", "timeout"), event
            if event["event"] == "list":
                self.lists.append(event)
            if event["event"] == kind:
                return event
        raise AssertionError(f"no {kind!r}")

    def list_until(self, entries: dict[str, str]) -> dict[str, Any]:
        """The box's list events until it holds exactly `entries`."""
        for _ in range(20):
            event = self.next("list")
            if event["entries"] == entries:
                return event
        raise AssertionError(f"list never became {entries}: {self.lists[-1:]}")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_local_list_follows_edits_and_works_while_ampshare_is_down(
    tmp_path: Path, version: str
) -> None:
    mgr = ManagerProcess("serve", data_dir=tmp_path / "data")
    box = None
    try:
        mgr.wait_ready()
        api = mgr.api
        device = {"kind": "evse", "driver": "ocpp", "id": "lb", "name": "List box",
                  "address": "LISTBOX", "authorization": "local"}  # fmt: skip
        assert api.post("/api/devices", json=device).status_code == 201
        for body in (
            {"name": "Anna", "tags": ["AAA1", "AAA2"]},
            {"name": "Ben", "tags": ["BBB"], "enabled": False},
            {"name": "Away", "tags": ["ELSEWHERE"], "evses": ["lb-none"]},
        ):
            status = api.post("/api/users", json=body).status_code
            assert status == (422 if body["name"] == "Away" else 201), body
        box = ListBox(mgr.ocpp_port, "LISTBOX", version)
        box.next("booted")
        first = box.list_until({"AAA1": "Accepted", "AAA2": "Accepted", "BBB": "Blocked"})
        v = first["version"]

        # three edits in a row, each followed by a small differential update
        cara = api.post("/api/users", json={"name": "Cara", "tags": ["CCC"]}).json()
        box.list_until({"AAA1": "Accepted", "AAA2": "Accepted", "BBB": "Blocked",
                        "CCC": "Accepted"})  # fmt: skip
        assert api.patch("/api/users/anna", json={"enabled": False}).status_code == 200
        box.list_until({"AAA1": "Blocked", "AAA2": "Blocked", "BBB": "Blocked",
                        "CCC": "Accepted"})  # fmt: skip
        assert api.delete("/api/users/ben").status_code == 204
        last = box.list_until({"AAA1": "Blocked", "AAA2": "Blocked", "CCC": "Accepted"})
        assert last["version"] > v
        after = box.lists[box.lists.index(first) + 1 :]
        assert after and all(e["kind"] == "Differential" for e in after)
        assert all(e["size"] <= 2 for e in box.lists)  # the box's maximum per message
        assert cara["tags"] == ["CCC"]

        box.send("auth CCC")
        assert box.next("auth") == {"event": "auth", "tag": "CCC", "status": "Accepted",
                                    "source": "server"}  # fmt: skip

        mgr.stop()  # ampshare is down: the box decides from its own list
        box.next("offline")
        for tag, want in (("ccc", "Accepted"), ("AAA1", "Blocked"), ("BBB", "Invalid")):
            box.send(f"auth {tag}")
            got = box.next("auth")
            assert (got["status"], got["source"]) == (want, "list"), got
    finally:
        if box is not None:
            box.stop()
        mgr.stop()
