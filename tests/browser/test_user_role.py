"""A user (not the admin) in real Chromium: logs in, sees only their own sessions, downloads
their CSV, and is refused the settings page and the admin API."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from browser_support import open_page
from manager_process import running
from ocpp.v16 import call as call16
from playwright.sync_api import Browser, expect
from test_ocpp_support import connect

pytestmark = [pytest.mark.browser, pytest.mark.slow]
USER_PW = "anna-secret-1"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def _sessions(port: int) -> None:
    """Anna charges 2.5 kWh, Ben 2 kWh, on the same box."""
    async with connect(port, "ROLE1") as box:
        for tag, start, stop in (("ANNA", 1000, 3500), ("BEN", 3500, 5500)):
            await box.call(call16.Authorize(id_tag=tag))
            res = await box.call(
                call16.StartTransaction(connector_id=1, id_tag=tag, meter_start=start,
                                        timestamp=_now())
            )  # fmt: skip
            await box.call(
                call16.StopTransaction(transaction_id=res.transaction_id, meter_stop=stop,
                                       timestamp=_now())
            )  # fmt: skip


def test_user_sees_only_own_sessions(browser: Browser, tmp_path: Path) -> None:
    with running("serve", data_dir=tmp_path / "data") as mgr:
        api = mgr.api
        box = {"kind": "evse", "driver": "ocpp", "id": "role", "name": "Garage",
               "address": "ROLE1", "authorization": "local"}  # fmt: skip
        assert api.post("/api/devices", json=box).status_code == 201
        anna = {"name": "Anna", "tags": ["ANNA"], "password": USER_PW}
        assert api.post("/api/users", json=anna).json()["password_set"] is True
        assert api.post("/api/users", json={"name": "Ben", "tags": ["BEN"]}).status_code == 201
        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
            pool.submit(asyncio.run, _sessions(mgr.ocpp_port)).result(timeout=60)
        assert len(api.get("/api/sessions").json()) == 2

        # the API answers a user's credentials only for their own things
        with httpx.Client(base_url=mgr.url, auth=("Anna", USER_PW), timeout=10) as user_api:
            mine = user_api.get("/api/me/sessions").json()
            assert [r["user"] for r in mine] == ["Anna"]
            for path in ("/api/sessions", "/api/users", "/api/settings", "/api/devices"):
                assert user_api.get(path).status_code == 403, path
            assert (
                user_api.patch("/api/me/evses/role", json={"charge_mode": "pv"}).json()[
                    "charge_mode"
                ]
                == "pv"
            )
            assert user_api.patch("/api/devices/role", json={"max_current_a": 6}).status_code == 403

        with open_page(browser, locale="en-US", accept_downloads=True) as page:
            page.goto(mgr.url + "/")
            page.fill("#username", "Anna")
            page.fill("#password", USER_PW)
            page.click("button[type=submit]")
            expect(page).to_have_url(mgr.url + "/me")
            rows = page.locator("#my-sessions tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("ANNA")
            expect(page.locator("#my-sessions")).not_to_contain_text("BEN")
            with page.expect_download() as info:
                page.click("#my-csv")
            csv = Path(info.value.path()).read_text(encoding="utf-8").strip().splitlines()
            assert info.value.suggested_filename.startswith("ampshare-sessions-Anna")
            assert len(csv) == 2 and ",Anna," in csv[1] and "BEN" not in "".join(csv)
            refused = page.goto(mgr.url + "/settings")
            assert refused is not None and refused.status == 403
            expect(page.locator("body")).to_contain_text("for the admin only")

        # a login link works once
        link = api.post("/api/users/anna/login-link").json()
        with httpx.Client(base_url=mgr.url, timeout=10) as anon:
            first = anon.get(link["path"], follow_redirects=False)
            assert first.status_code == 303 and first.headers["location"] == "/me"
            assert anon.get("/api/me").json()["name"] == "Anna"
        with httpx.Client(base_url=mgr.url, timeout=10) as again:
            assert again.get(link["path"], follow_redirects=False).status_code == 403
