"""Authorization round trip: an OCPP 1.6 box sends Authorize for a known card and waits for
Accepted, with 10 000 users in the table (and 100 for comparison: lookups are O(1)).

Run: python tests/bench/bench_auth.py  (part of `make bench`). Writes the users straight into a
fresh data directory, starts `ampshare serve` on loopback, and times Authorize -> Accepted over
one WebSocket with the `ocpp` library as the box.
"""

from __future__ import annotations

import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from manager_process import ManagerProcess
from ocpp.v16 import call as call16
from test_ocpp_support import connect

from manager.configstore import ConfigStore
from manager.users import UserConfig

ROUNDS = 2000


def seed(data: Path, users: int) -> list[str]:
    store = ConfigStore(data)
    rows = [
        UserConfig(id=f"u{i}", name=f"User {i}", tags=[f"TAG{i:06d}"]).model_dump(mode="json")
        for i in range(users)
    ]
    store.db.table("users").insert_multiple(rows)
    store.put_device({"id": "bench", "name": "Bench box", "kind": "evse", "driver": "ocpp",
                      "enabled": True, "address": "BENCH1", "authorization": "local"})  # fmt: skip
    store.close()
    return [r["tags"][0] for r in rows]


async def round_trips(port: int, tags: list[str]) -> list[float]:
    rng = random.Random(1)
    times: list[float] = []
    async with connect(port, "BENCH1") as box:
        for _ in range(50):  # warm up
            await box.call(call16.Authorize(id_tag=rng.choice(tags)))
        for _ in range(ROUNDS):
            tag = rng.choice(tags)
            t0 = time.perf_counter()
            res = await box.call(call16.Authorize(id_tag=tag))
            times.append(time.perf_counter() - t0)
            assert res.id_tag_info["status"] == "Accepted", (tag, res)
    return times


def run(users: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        tags = seed(data, users)
        proc = ManagerProcess("serve", data_dir=data)
        try:
            proc.wait_ready(timeout_s=120)
            times = asyncio.run(round_trips(proc.ocpp_port, tags))
        finally:
            proc.stop()
    cuts = statistics.quantiles(times, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


def main() -> None:
    logging.getLogger("ocpp").setLevel(logging.CRITICAL)  # the test box has no local list
    for users in (100, 10_000):
        p50, p99 = run(users)
        print(f"authorize round trip, {users:>6} users: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
              f"({ROUNDS} Authorize -> Accepted)")  # fmt: skip


if __name__ == "__main__":
    main()
