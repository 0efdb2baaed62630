"""Security profile 3 end to end: the CA through the settings API, names matched to the box."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from manager_process import ManagerProcess
from test_ocpp_security import PASSWORD, client_ctx, make_cert, tls_works
from test_ocpp_support import running_server

from manager.config import check_ca_pem


def box_ctx(tmp_path: Path, server_pem: str, cert: str, key: str) -> ssl.SSLContext:
    ctx = client_ctx(server_pem)
    (tmp_path / "box.crt").write_text(cert)
    (tmp_path / "box.key").write_text(key)
    ctx.load_cert_chain(tmp_path / "box.crt", tmp_path / "box.key")
    return ctx


async def test_certificate_must_name_the_charge_box(tmp_path: Path) -> None:
    ca_pem, _, ca_key, ca_name = make_cert("Box CA", ca=True)
    cert, key, _, _ = make_cert("BOX3", ca_key, ca_name)
    stranger, stranger_key, _, _ = make_cert("BOX3")  # right name, not from the CA
    async with running_server(tmp_path, tls="on", ca_pem=ca_pem) as (server, _):
        server_pem = server.certificate_pem()
        ctx = box_ctx(tmp_path, server_pem, cert, key)
        assert await tls_works(server.port, "BOX3", ctx)
        assert not await tls_works(server.port, "BOX4", ctx)  # another box's certificate
        # with a CA and no password, a box without a certificate is not let in
        assert not await tls_works(server.port, "BOX5", client_ctx(server_pem))
        bad = box_ctx(tmp_path, server_pem, stranger, stranger_key)
        assert not await tls_works(server.port, "BOX3", bad)


def test_ca_pem_is_cleaned_and_checked() -> None:
    ca_pem, _, _, _ = make_cert("Box CA", ca=True)
    folded = ca_pem.replace("\n", " ")  # as pasted into a one-line form field
    assert check_ca_pem(folded) == ca_pem
    for bad in ("junk", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"):
        with pytest.raises(ValueError):
            check_ca_pem(bad)


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagerProcess]:
    proc = ManagerProcess("serve", data_dir=tmp_path_factory.mktemp("certs") / "data")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def test_settings_api_takes_ca_pem_and_the_server_uses_it(
    serve: ManagerProcess, tmp_path: Path
) -> None:
    api = serve.api
    bad = api.patch("/api/settings", json={"ocpp": {"ca_pem": "not a certificate"}})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["ocpp.ca_pem"]
    ca_pem, _, ca_key, ca_name = make_cert("Box CA", ca=True)
    ok = api.patch("/api/settings", json={"ocpp": {"ca_pem": ca_pem, "tls": "on"}})
    assert ok.status_code == 200, ok.text
    assert ok.json()["ocpp"]["ca_pem"] == ca_pem
    server_pem = api.get("/api/ocpp/certificate").text
    cert, key, _, _ = make_cert("WB7", ca_key, ca_name)

    async def attempt(cb_id: str, ctx: ssl.SSLContext, headers: dict[str, str] | None) -> bool:
        try:
            async with websockets.connect(
                f"wss://127.0.0.1:{serve.ocpp_port}/{cb_id}",
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                ssl=ctx,
                additional_headers=headers,
                open_timeout=5,
            ):
                return True
        except (OSError, websockets.InvalidHandshake, TimeoutError):
            return False

    async def run() -> list[bool]:
        with_cert = box_ctx(tmp_path, server_pem, cert, key)
        return [
            await attempt("WB7", with_cert, None),
            await attempt("WB8", with_cert, None),
            await attempt("WB8", client_ctx(server_pem), None),
        ]

    assert asyncio.run(run()) == [True, False, False]
    api.patch("/api/settings", json={"ocpp": {"ca_pem": None, "tls": "off"}})


def test_settings_page_says_when_anyone_can_connect(serve: ManagerProcess) -> None:
    notice = "any device on the network can connect"
    page = serve.api.get("/settings")
    assert page.status_code == 200 and notice in page.text
    german = serve.api.get("/settings", headers={"Accept-Language": "de"})
    assert "Jedes Gerät im Netzwerk kann sich" in german.text
    serve.api.patch("/api/settings", json={"ocpp": {"password": PASSWORD}})
    try:
        assert notice not in serve.api.get("/settings").text
    finally:
        serve.api.patch("/api/settings", json={"ocpp": {"password": None}})
    assert re.search(notice, serve.api.get("/settings").text)
