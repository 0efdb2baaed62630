"""A healthy charge point's heartbeat latency while the OCPP port is under attack.

Run as `python tests/bench/bench_hostile.py`. The server runs in its own process (as in
bench_ocpp.py); the attack runs in another one, so the healthy box in this process measures
only the server:

1. quiet: the healthy box alone sends Heartbeats (p50 / p99 / max);
2. hostile: meanwhile 300 unauthenticated connections stay open (never answering the server's
   requests), and one client floods bad frames (not JSON, broken RPC frames, malformed
   MeterValues, unknown actions, absurd numbers) as fast as the server answers them.

Figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

import websockets  # noqa: E402
from bench_ocpp import ChargePoint, ServerProcess, raise_fd_limit  # noqa: E402

IDLE_CONNECTIONS = 300
HEARTBEATS = 400
HEARTBEAT_GAP_S = 0.02
ATTACK_S = 15.0

BAD_FRAMES = [
    "this is not json",
    "[2]",
    '[9,"x",{}]',
    '[2,"x","NoSuchAction",{}]',
    '[2,"x","Heartbeat"]',
    '[2,"x","MeterValues",{"connectorId":1,"meterValue":[{"sampledValue":[{"value":"1","location":[]}]}]}]',
    '[2,"x","MeterValues",{"connectorId":1,"meterValue":[{"sampledValue":[{"value":"1","phase":{}}]}]}]',
    '[2,"x","MeterValues",{"connectorId":1,"meterValue":[{"sampledValue":[{"value":"1e308","unit":"kW","measurand":"Power.Active.Import"}]}]}]',
    '[2,"x","StatusNotification",{"connectorId":"one","status":"Charging","errorCode":"x"}]',
    '[2,"x","StartTransaction",{"connectorId":1}]',
    '[2,"x","Authorize",{"idTag":{}}]',
    "[" * 500,
]


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "p50": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "max": ms[-1],
    }


async def heartbeats(port: int) -> dict[str, float]:
    box = ChargePoint(port, "HEALTHY")
    await box.connect()
    try:
        await box.boot()
        samples = []
        for _ in range(HEARTBEATS):
            samples.append(await box.call("Heartbeat", {}))
            await asyncio.sleep(HEARTBEAT_GAP_S)
        return percentiles(samples)
    finally:
        await box.close()


# ---------------------------------------------------------------------------- attack process


async def _idle(port: int, n: int) -> Any:
    """An unauthenticated box that says nothing and answers nothing."""
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/INTRUDER{n:04d}",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        compression=None,
        open_timeout=60,
        ping_interval=None,
    )


async def _flood(port: int, stop_at: float) -> tuple[int, int]:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/FLOODER",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        compression=None,
        ping_interval=None,
        max_queue=None,
    )
    sent = answered = 0

    async def read() -> None:
        nonlocal answered
        async for raw in ws:
            if not str(raw).startswith("[2"):  # the server's own requests are no answers
                answered += 1

    reader = asyncio.get_running_loop().create_task(read())
    try:
        while time.time() < stop_at:
            for frame in BAD_FRAMES:
                await ws.send(frame)
                sent += 1
            while sent - answered > 200:  # noqa: ASYNC110 - a window: one answer per frame
                await asyncio.sleep(0.001)
    finally:
        await ws.close()
        reader.cancel()
    return sent, answered


async def attack(port: int, seconds: float) -> None:
    raise_fd_limit()
    idle = []
    for n in range(IDLE_CONNECTIONS):  # one after another: the server must hold them all
        idle.append(await _idle(port, n))
    print("READY", flush=True)
    sent, answered = await _flood(port, time.time() + seconds)
    open_count = sum(1 for ws in idle if ws.state.name == "OPEN")
    for ws in idle:
        await ws.close()
    print(json.dumps({"sent": sent, "answered": answered, "idle_open": open_count}), flush=True)


# ---------------------------------------------------------------------------- main


def start_attacker(port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--attack", str(port), str(ATTACK_S)],
        stdout=subprocess.PIPE,
        text=True,
    )


async def hostile_round(
    proc: subprocess.Popen[str], port: int
) -> tuple[dict[str, float], dict[str, Any]]:
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    if line.strip() != "READY":
        raise SystemExit(f"attacker did not start: {line!r}")
    await asyncio.sleep(1.0)  # the flood is running
    figures = await heartbeats(port)
    out, _ = await asyncio.to_thread(proc.communicate, None, ATTACK_S + 120)
    return figures, json.loads(out.strip().splitlines()[-1])


def main() -> None:
    raise_fd_limit()
    server = ServerProcess("ours")
    try:
        quiet = asyncio.run(heartbeats(server.port))
        rss_before = server.rss_mb()
        cpu0, t0 = server.cpu_s(), time.monotonic()
        loud, attack_stats = asyncio.run(hostile_round(start_attacker(server.port), server.port))
        cpu_pct = 100 * (server.cpu_s() - cpu0) / (time.monotonic() - t0)
        rss_after = server.rss_mb()
    finally:
        server.close()
    print(f"healthy box: {HEARTBEATS} Heartbeats, one every {HEARTBEAT_GAP_S * 1000:.0f} ms")
    for name, fig in (("quiet", quiet), ("under attack", loud)):
        print(
            f"  {name:<13} p50 {fig['p50']:.2f} ms   p99 {fig['p99']:.2f} ms   "
            f"max {fig['max']:.2f} ms"
        )
    rate = attack_stats["answered"] / ATTACK_S
    print(
        f"attack: {IDLE_CONNECTIONS} unauthenticated connections "
        f"({attack_stats['idle_open']} still open at the end), one client flooding bad frames: "
        f"{attack_stats['answered']} of {attack_stats['sent']} answered (~{rate:.0f}/s)"
    )
    print(f"server: CPU {cpu_pct:.0f} % of one core, RSS {rss_before:.0f} -> {rss_after:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attack", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attack:
        asyncio.run(attack(int(args.attack[0]), float(args.attack[1])))
    else:
        main()
