"""Firmware and log transfers: real HTTP between a strict ocpp-rpc box and a real `ampshare
serve`, through one-time URLs; progress from the box's status notifications."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from manager_process import PASSWORD, ManagerProcess
from station_support import node_station

pytestmark = pytest.mark.slow

WAIT_S = 10.0


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagerProcess]:
    proc = ManagerProcess("serve", data_dir=tmp_path_factory.mktemp("transfers") / "data")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def api(serve: ManagerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=serve.url, auth=("admin", PASSWORD), timeout=30
    ) as client:
        yield client


async def station_until(api: httpx.AsyncClient, cb_id: str, key: str, status: str) -> Any:
    """Poll the station until its transfer `key` reports `status` (bounded)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            info = (await api.get(f"/api/stations/{cb_id}")).json()
            transfer = info.get(key) or {}
            if transfer.get("status") == status:
                return info
            await asyncio.sleep(0.1)


async def box_ready(api: httpx.AsyncClient, cb_id: str) -> None:
    async with asyncio.timeout(WAIT_S):
        while (await api.get(f"/api/stations/{cb_id}")).status_code != 200:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_firmware_update_and_log_upload(
    serve: ManagerProcess, api: httpx.AsyncClient, version: str
) -> None:
    image = os.urandom(300_000)
    up = await api.post("/api/firmware", params={"name": "fw 1.0.bin"}, content=image)
    assert up.status_code == 201, up.text
    file_id = up.json()["id"]
    assert file_id.endswith("fw_1.0.bin") and up.json()["size"] == len(image)
    cb_id = f"FW{version[0]}"
    multipart = version == "2.0.1"
    async with node_station(serve.ocpp_port, cb_id, version, multipart=multipart) as box:
        await box_ready(api, cb_id)
        body: dict[str, Any] = {"file_id": file_id}
        if version == "2.0.1":
            body |= {"signing_certificate": "-----BEGIN CERTIFICATE-----x", "signature": "c2ln"}
        started = await api.post(f"/api/stations/{cb_id}/firmware", json=body)
        assert started.json()["status"] == "Accepted", started.text
        sent = await box.request("UpdateFirmware")
        if version == "2.0.1":
            assert sent["firmware"]["signingCertificate"] == body["signing_certificate"]
            assert sent["firmware"]["signature"] == "c2ln"
        got = await box.next("downloaded")
        assert got["httpStatus"] == 200 and got["size"] == len(image)
        assert got["sha256"] == hashlib.sha256(image).hexdigest()
        assert got["again"] == 404  # the URL worked once
        info = await station_until(api, cb_id, "firmware_transfer", "Installed")
        steps = [s["status"] for s in info["firmware_transfer"]["steps"]]
        assert steps == ["Requested", "Downloading", "Downloaded", "Installing", "Installed"]

        logs = await api.post(f"/api/stations/{cb_id}/logs", json={})
        assert logs.json()["status"] == "Accepted", logs.text
        location = await box.request("GetDiagnostics" if version == "1.6" else "GetLog")
        url = location.get("location") or location["log"]["remoteLocation"]
        assert url.startswith(f"http://127.0.0.1:{serve.http_port}/transfer/")
        uploaded = await box.next("uploaded")
        assert (uploaded["httpStatus"], uploaded["again"]) == (201, 404)
        info = await station_until(api, cb_id, "logs_transfer", "Uploaded")
        [row] = info["log_files"]
        assert row["id"].endswith("diag.txt" if multipart else "log.txt")
        text = (await api.get(f"/api/logs/{row['id']}")).text
        assert text == "box log line 1\nbox log line 2\n"


async def test_transfer_links_and_limits(serve: ManagerProcess, api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=serve.url, timeout=30) as anonymous:
        assert (await anonymous.get("/transfer/not-a-token")).status_code == 404
        assert (await anonymous.head("/transfer/not-a-token")).status_code == 404
        assert (await anonymous.put("/transfer/not-a-token", content=b"x")).status_code == 404
        assert (await anonymous.post("/api/firmware", content=b"x")).status_code == 401
        assert (await anonymous.get("/api/logs/whatever")).status_code == 401

    async def too_big() -> AsyncIterator[bytes]:
        chunk = bytes(1024 * 1024)
        for _ in range(65):
            yield chunk

    big = await api.post("/api/firmware", params={"name": "big.bin"}, content=too_big())
    assert big.status_code == 413
    names = [f["id"] for f in (await api.get("/api/firmware")).json()]
    assert not any(n.endswith("big.bin") for n in names)
    assert not [
        p for p in (Path(serve.data_dir or ".") / "firmware").iterdir() if p.name.startswith(".")
    ]
    missing = await api.post("/api/stations/NOBODY/firmware", json={"file_id": "nope"})
    assert missing.status_code == 409
    assert (await api.get("/api/logs/..%2Fconfig.json")).status_code == 404
