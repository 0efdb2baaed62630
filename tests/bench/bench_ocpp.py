"""OCPP server benchmark: many charge points at field rates, and raw MeterValues throughput.

Run as `python tests/bench/bench_ocpp.py`. The server runs in its own process so its CPU and
memory can be measured; the charge points are plain WebSocket clients in this process.

1. 1 000 OCPP 1.6 charge points, each sending MeterValues every 10 s plus a Heartbeat:
   server CPU % (of one core), RSS, p99 response time. Targets: CPU <= 10 %, RSS <= 120 MB,
   p99 <= 20 ms.
2. 50 charge points sending MeterValues back to back: messages per second for ampshare's server
   (target >= 5 000/s) and for a straightforward `ocpp`-library central system (baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

import psutil  # noqa: E402
import websockets  # noqa: E402

FIELD_CPS = int(os.environ.get("BENCH_OCPP_CPS", "1000"))
RAMP_S = 6.0
SETTLE_S = 6.0
MEASURE_S = 25.0
INTERVAL_S = 10.0
THROUGHPUT_CPS = 50
#: client processes (each has its own event loop and garbage collector)
FIELD_WORKERS = 4
THROUGHPUT_WORKERS = 2
THROUGHPUT_S = 6.0

METER_VALUES = {
    "connectorId": 1,
    "transactionId": 1,
    "meterValue": [
        {
            "timestamp": "2026-03-01T10:00:00Z",
            "sampledValue": [
                {"value": "12345.6", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "7360", "measurand": "Power.Active.Import", "unit": "W"},
                {"value": "16.0", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                {"value": "16.0", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
                {"value": "16.0", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
                {"value": "230.1", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
            ],
        }
    ],
}
CONFIG = [
    {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "1"},
    {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"},
    {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
    {"key": "MeterValueSampleInterval", "readonly": False, "value": "10"},
    {
        "key": "MeterValuesSampledData",
        "readonly": False,
        "value": "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage",
    },
]


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---------------------------------------------------------------------------- server process


class _Hooks:
    def __init__(self, data_dir: Path) -> None:
        from manager.sessions import SessionStore

        self.sessions = SessionStore(data_dir)

    def events(self, kind: str, message: str, *, device: str | None = None) -> None:
        pass

    def authorize(self, id_tag: str) -> bool:
        return True

    def device_password(self, charge_box_id: str) -> str | None:
        return None

    def is_released(self, charge_box_id: str) -> bool:
        return False


async def _serve(kind: str) -> None:
    raise_fd_limit()
    logging.basicConfig(level=logging.WARNING)
    if kind == "ours":
        from devices.ocpp.server import OcppServer
        from devices.ocpp.settings import OcppSettings

        data = Path(tempfile.mkdtemp(prefix="bench-ocpp-"))
        server: Any = OcppServer(OcppSettings(host="127.0.0.1", port=0), _Hooks(data), data)
        await server.start()
        port = server.port
    else:
        from baseline_ocpp_cs import serve_baseline

        server = await serve_baseline("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    if kind == "ours":
        await server.stop()
    else:
        server.close()


class ServerProcess:
    def __init__(self, kind: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise SystemExit(f"server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.ps = psutil.Process(self.proc.pid)

    def cpu_s(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 1e6

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------------------- charge points


class ChargePoint:
    """A minimal 1.6 charge point: answers the server's requests, times its own."""

    def __init__(self, port: int, cp_id: str) -> None:
        self.url = f"ws://127.0.0.1:{port}/{cp_id}"
        self.ws: Any = None
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.seq = 0
        self.reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            self.url,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            compression=None,
            open_timeout=60,
            ping_interval=None,
        )
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if msg[0] == 2:
                    action = msg[2]
                    if action == "GetConfiguration":
                        reply: dict[str, Any] = {"configurationKey": CONFIG}
                    else:
                        reply = {"status": "Accepted"}
                    await self.ws.send(json.dumps([3, msg[1], reply]))
                else:
                    fut = self.pending.pop(msg[1], None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
        except websockets.ConnectionClosed:
            pass

    async def call(self, action: str, payload: dict[str, Any] | str) -> float:
        """Seconds from sending the request to its reply."""
        self.seq += 1
        uid = str(self.seq)
        fut = asyncio.get_running_loop().create_future()
        self.pending[uid] = fut
        body = payload if isinstance(payload, str) else json.dumps(payload)
        t0 = time.perf_counter()
        await self.ws.send(f'[2,"{uid}","{action}",{body}]')
        async with asyncio.timeout(30):
            reply = await fut
        dt = time.perf_counter() - t0
        if reply[0] != 3:
            raise RuntimeError(f"{action}: {reply}")
        return dt

    async def boot(self) -> None:
        await self.call("BootNotification", {"chargePointVendor": "B", "chargePointModel": "M"})
        await self.call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
        )

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            await self.reader


def _spawn_workers(args_list: list[list[str]]) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
        for args in args_list
    ]


def _collect(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    out = []
    for w in workers:
        stdout, _ = w.communicate(timeout=120)
        if w.returncode != 0:
            raise SystemExit(f"client worker failed ({w.returncode})")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


async def field_worker(port: int, first: int, count: int, total: int, t0: float) -> None:
    """Charge points first..first+count of `total`, ramped in from wall time t0."""
    measure_from = t0 + RAMP_S + SETTLE_S
    measure_to = measure_from + MEASURE_S
    meter = json.dumps(METER_VALUES)
    rng = random.Random(first)
    latencies: list[float] = []
    errors = 0
    cps = [ChargePoint(port, f"CP{i:04d}") for i in range(first, first + count)]

    async def life(i: int, cp: ChargePoint) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, t0 + RAMP_S * i / total - time.time()))
        await cp.connect()
        await cp.boot()
        next_at = t0 + RAMP_S + rng.uniform(0, INTERVAL_S)
        while next_at < measure_to:
            await asyncio.sleep(max(0.0, next_at - time.time()))
            try:
                dts = [await cp.call("MeterValues", meter), await cp.call("Heartbeat", "{}")]
            except (RuntimeError, TimeoutError):
                errors += 1
                continue
            if measure_from <= time.time() <= measure_to:
                latencies.extend(dts)
            next_at += INTERVAL_S

    await asyncio.gather(*(life(first + k, cp) for k, cp in enumerate(cps)))
    await asyncio.gather(*(cp.close() for cp in cps))
    print(json.dumps({"latencies": latencies, "errors": errors}))


async def throughput_worker(
    port: int, first: int, count: int, t_start: float, t_stop: float
) -> None:
    cps = [ChargePoint(port, f"TP{i:02d}") for i in range(first, first + count)]
    for cp in cps:
        await cp.connect()
        await cp.boot()
    meter = json.dumps(METER_VALUES)
    n = 0

    async def pump(cp: ChargePoint) -> None:
        nonlocal n
        while time.time() < t_stop:
            await cp.call("MeterValues", meter)
            n += 1

    await asyncio.sleep(max(0.0, t_start - time.time()))
    await asyncio.gather(*(pump(cp) for cp in cps))
    await asyncio.gather(*(cp.close() for cp in cps))
    print(json.dumps({"count": n}))


def field_run(server: ServerProcess) -> dict[str, float]:
    t0 = time.time() + 1.0
    per = FIELD_CPS // FIELD_WORKERS
    workers = _spawn_workers(
        [
            ["--worker", "field", str(server.port), str(k * per), str(per), str(FIELD_CPS), str(t0)]
            for k in range(FIELD_WORKERS)
        ]
    )
    measure_from = t0 + RAMP_S + SETTLE_S
    time.sleep(max(0.0, measure_from - time.time()))
    cpu0, w0 = server.cpu_s(), time.time()
    time.sleep(max(0.0, measure_from + MEASURE_S - time.time()))
    cpu1, w1 = server.cpu_s(), time.time()
    rss = server.rss_mb()
    results = _collect(workers)
    latencies = sorted(x for r in results for x in r["latencies"])
    return {
        "cps": per * FIELD_WORKERS,
        "messages": len(latencies),
        "errors": sum(r["errors"] for r in results),
        "cpu_pct": 100.0 * (cpu1 - cpu0) / (w1 - w0),
        "rss_mb": rss,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": 1000 * latencies[-1],
    }


def throughput_run(server: ServerProcess) -> dict[str, float]:
    t_start = time.time() + 3.0  # workers connect and boot their charge points first
    t_stop = t_start + THROUGHPUT_S
    per = THROUGHPUT_CPS // THROUGHPUT_WORKERS
    workers = _spawn_workers(
        [
            [
                "--worker",
                "throughput",
                str(server.port),
                str(k * per),
                str(per),
                str(t_start),
                str(t_stop),
            ]
            for k in range(THROUGHPUT_WORKERS)
        ]
    )
    time.sleep(max(0.0, t_start - time.time()))
    cpu0 = server.cpu_s()
    time.sleep(max(0.0, t_stop - time.time()))
    cpu = server.cpu_s() - cpu0
    count = sum(r["count"] for r in _collect(workers))
    return {"msgs_per_s": count / THROUGHPUT_S, "server_cpu_pct": 100 * cpu / THROUGHPUT_S}


def run(kind: str, what: str) -> dict[str, float]:
    server = ServerProcess(kind)
    try:
        return field_run(server) if what == "field" else throughput_run(server)
    finally:
        server.close()


def main() -> None:
    raise_fd_limit()
    field = run("ours", "field")
    print(f"field: {field['cps']} OCPP 1.6 charge points, MeterValues + Heartbeat every 10 s")
    print(
        f"  messages measured   {field['messages']} in {MEASURE_S:.0f} s, errors {field['errors']}"
    )
    print(f"  server CPU          {field['cpu_pct']:.1f} % of one core   (target <= 10 %)")
    print(f"  server RSS          {field['rss_mb']:.1f} MB              (target <= 120 MB)")
    print(
        f"  response time       p50 {field['p50_ms']:.2f} ms, p99 {field['p99_ms']:.2f} ms, "
        f"max {field['max_ms']:.1f} ms   (target p99 <= 20 ms)"
    )
    ours = run("ours", "throughput")
    base = run("baseline", "throughput")
    print(f"throughput: {THROUGHPUT_CPS} charge points sending MeterValues back to back")
    print(
        f"  ampshare            {ours['msgs_per_s']:.0f} msg/s "
        f"(server CPU {ours['server_cpu_pct']:.0f} %)   (target >= 5000/s)"
    )
    print(
        f"  ocpp-library baseline {base['msgs_per_s']:.0f} msg/s "
        f"(server CPU {base['server_cpu_pct']:.0f} %)"
    )
    print(f"  ratio               {ours['msgs_per_s'] / base['msgs_per_s']:.1f} x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", choices=("ours", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
    elif args.worker:
        raise_fd_limit()
        kind, nums = args.worker[0], [float(x) for x in args.worker[1:]]
        if kind == "field":
            port, first, count, total, t0 = nums
            asyncio.run(field_worker(int(port), int(first), int(count), int(total), t0))
        else:
            port, first, count, t_start, t_stop = nums
            asyncio.run(throughput_worker(int(port), int(first), int(count), t_start, t_stop))
    else:
        main()
