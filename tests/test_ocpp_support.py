"""Helpers for the OCPP tests: manager hooks, charge points built on the `ocpp` library."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import websockets
from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.exceptions import ConnectionClosed

from devices.ocpp.evse import OcppEvse, OcppEvseOptions
from devices.ocpp.server import OcppServer
from devices.ocpp.settings import OcppSettings
from manager.model import DeviceSpec
from manager.sessions import SessionStore

WAIT_S = 5.0


class Hooks:
    """What the composition root provides, with plain attributes tests can look at."""

    def __init__(self, data_dir: Path) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.sessions = SessionStore(data_dir)
        self.tags: set[str] = set()
        self.passwords: dict[str, str] = {}
        self.released: set[str] = set()

    def events(self, kind: str, message: str, *, device: str | None = None) -> None:
        self.seen.append((kind, message, device))

    def authorize(self, id_tag: str) -> bool:
        return id_tag in self.tags

    async def check_tag(
        self, charge_box_id: str, connector: int | None, id_tag: str | None, protocol: str | None
    ) -> str | None:
        return None

    def device_password(self, charge_box_id: str) -> str | None:
        return self.passwords.get(charge_box_id)

    def local_list(self, charge_box_id: str) -> dict[str, dict[str, Any]] | None:
        return None

    def is_released(self, charge_box_id: str) -> bool:
        return charge_box_id in self.released

    def kinds(self) -> list[str]:
        return [k for k, _, _ in self.seen]


class _Recorder:
    """Requests the server sent, in order, for tests to wait on."""

    def _init_recorder(self) -> None:
        self.requests: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.log: list[tuple[str, dict[str, Any]]] = []

    def _record(self, action: str, payload: dict[str, Any]) -> None:
        self.requests.put_nowait((action, payload))
        self.log.append((action, payload))

    async def expect(
        self, action: str, pred: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """The next request with this action (others are skipped), within WAIT_S."""
        async with asyncio.timeout(WAIT_S):
            while True:
                got, payload = await self.requests.get()
                if got == action and (pred is None or pred(payload)):
                    return payload

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        while not self.requests.empty():
            out.append(self.requests.get_nowait())
        return out


class Box16(ChargePoint16, _Recorder):
    """A 1.6 charge point whose answers tests can set."""

    def __init__(self, cb_id: str, ws: Any, **opts: Any) -> None:
        super().__init__(cb_id, ws, response_timeout=WAIT_S)
        self._init_recorder()
        self.config = {
            "ChargeProfileMaxStackLevel": "3",
            "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
            "NumberOfConnectors": "1",
            "MeterValueSampleInterval": "60",
            "MeterValuesSampledData": "Energy.Active.Import.Register",
        }
        self.config.update(opts.pop("config", {}))
        self.reject_measurands: set[str] = set(opts.pop("reject_measurands", ()))
        self.profile_status: str = opts.pop("profile_status", "Accepted")
        #: profile purposes the box takes (None: all)
        self.purposes: set[str] | None = opts.pop("purposes", None)
        self.clear_status: str = opts.pop("clear_status", "Accepted")
        self.silent: set[str] = set(opts.pop("silent", ()))
        self._routing: set[asyncio.Task[None]] = set()
        self.profiles: dict[int, dict[str, Any]] = {}

    async def route_message(self, raw_msg: Any) -> None:
        """Each message in its own task, as real boxes do: a request the test lets hang must
        not hold up the replies to the box's own requests."""
        task = asyncio.get_running_loop().create_task(super().route_message(raw_msg))
        self._routing.add(task)
        task.add_done_callback(self._routing.discard)

    async def _maybe_hang(self, action: str) -> None:
        if action in self.silent:
            await asyncio.sleep(3600)

    @on(Action16.get_configuration)
    async def _get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        self._record("GetConfiguration", {"key": key})
        await self._maybe_hang("GetConfiguration")
        keys = [
            {"key": k, "readonly": False, "value": v}
            for k, v in self.config.items()
            if not key or k in key
        ]
        return result16.GetConfiguration(configuration_key=keys)

    @on(Action16.change_configuration)
    def _change_configuration(self, key: str, value: str, **_: Any) -> Any:
        self._record("ChangeConfiguration", {"key": key, "value": value})
        if key == "MeterValuesSampledData" and set(value.split(",")) & self.reject_measurands:
            return result16.ChangeConfiguration(status="Rejected")
        self.config[key] = value
        return result16.ChangeConfiguration(status="Accepted")

    @on(Action16.set_charging_profile)
    async def _set_profile(self, connector_id: int, cs_charging_profiles: dict, **_: Any) -> Any:
        payload = {"connector_id": connector_id, **cs_charging_profiles}
        self._record("SetChargingProfile", payload)
        await self._maybe_hang("SetChargingProfile")
        status = self.profile_status
        if self.purposes is not None and payload["charging_profile_purpose"] not in self.purposes:
            status = "Rejected"
        if status == "Accepted":
            self.profiles[cs_charging_profiles["charging_profile_id"]] = payload
        return result16.SetChargingProfile(status=status)

    @on(Action16.clear_charging_profile)
    async def _clear_profile(self, **kwargs: Any) -> Any:
        self._record("ClearChargingProfile", kwargs)
        await self._maybe_hang("ClearChargingProfile")
        pid = kwargs.get("id")
        if pid in self.profiles:
            del self.profiles[pid]
            return result16.ClearChargingProfile(status=self.clear_status)
        return result16.ClearChargingProfile(status="Unknown")

    @on(Action16.trigger_message)
    def _trigger(self, requested_message: str, **kwargs: Any) -> Any:
        self._record("TriggerMessage", {"requested_message": requested_message, **kwargs})
        return result16.TriggerMessage(status="Accepted")

    @on(Action16.change_availability)
    def _availability(self, connector_id: int, type: str, **_: Any) -> Any:
        self._record("ChangeAvailability", {"connector_id": connector_id, "type": type})
        return result16.ChangeAvailability(status="Accepted")

    @on(Action16.remote_stop_transaction)
    def _remote_stop(self, transaction_id: int, **_: Any) -> Any:
        self._record("RemoteStopTransaction", {"transaction_id": transaction_id})
        return result16.RemoteStopTransaction(status="Accepted")

    def limit(self, profile_id: int) -> float | None:
        prof = self.profiles.get(profile_id)
        if prof is None:
            return None
        return float(prof["charging_schedule"]["charging_schedule_period"][0]["limit"])


class Box201(ChargePoint201, _Recorder):
    """A 2.0.1 charging station whose answers tests can set."""

    def __init__(self, cb_id: str, ws: Any, **opts: Any) -> None:
        super().__init__(cb_id, ws, response_timeout=WAIT_S)
        self._init_recorder()
        self.variables = {
            "ProfileStackLevel": "2",
            "RateUnit": "A,W",
            "Phases3to1": "false",
            "TxUpdatedInterval": "0",
            "TxUpdatedMeasurands": "",
        }
        self.reject_measurands: set[str] = set(opts.pop("reject_measurands", ()))
        self.profile_status: str = opts.pop("profile_status", "Accepted")
        #: profile purposes the box takes (None: all)
        self.purposes: set[str] | None = opts.pop("purposes", None)
        #: profile ids whose next ClearChargingProfile fails with a CALLERROR
        self.clear_fails: set[int] = set(opts.pop("clear_fails", ()))
        self.profiles: dict[int, dict[str, Any]] = {}

    @on(Action201.get_variables)
    def _get_variables(self, get_variable_data: list[dict], **_: Any) -> Any:
        self._record("GetVariables", {"data": get_variable_data})
        out = []
        for item in get_variable_data:
            name = item["variable"]["name"]
            res = {"component": item["component"], "variable": item["variable"]}
            if name in self.variables:
                res |= {"attribute_status": "Accepted", "attribute_value": self.variables[name]}
            else:
                res |= {"attribute_status": "UnknownVariable"}
            out.append(res)
        return result201.GetVariables(get_variable_result=out)

    @on(Action201.set_variables)
    def _set_variables(self, set_variable_data: list[dict], **_: Any) -> Any:
        self._record("SetVariables", {"data": set_variable_data})
        out = []
        for item in set_variable_data:
            value = item["attribute_value"]
            bad = set(value.split(",")) & self.reject_measurands
            status = "Rejected" if bad else "Accepted"
            if not bad:
                self.variables[item["variable"]["name"]] = value
            out.append(
                {
                    "attribute_status": status,
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        return result201.SetVariables(set_variable_result=out)

    @on(Action201.set_charging_profile)
    def _set_profile(self, evse_id: int, charging_profile: dict, **_: Any) -> Any:
        payload = {"evse_id": evse_id, **charging_profile}
        self._record("SetChargingProfile", payload)
        if self.purposes is not None and payload["charging_profile_purpose"] not in self.purposes:
            return result201.SetChargingProfile(status="Rejected")
        if self.profile_status == "Accepted":
            self.profiles[charging_profile["id"]] = payload
            return result201.SetChargingProfile(status="Accepted")
        return result201.SetChargingProfile(
            status=self.profile_status,
            status_info={"reason_code": "InvalidSchedule", "additional_info": "limit too low"},
        )

    @on(Action201.clear_charging_profile)
    def _clear_profile(self, **kwargs: Any) -> Any:
        self._record("ClearChargingProfile", kwargs)
        pid = kwargs.get("charging_profile_id")
        if pid in self.clear_fails:
            self.clear_fails.discard(pid)
            raise InternalError(description="cannot clear that one now")
        if pid in self.profiles:
            del self.profiles[pid]
            return result201.ClearChargingProfile(status="Accepted")
        return result201.ClearChargingProfile(status="Unknown")

    @on(Action201.trigger_message)
    def _trigger(self, requested_message: str, **kwargs: Any) -> Any:
        self._record("TriggerMessage", {"requested_message": requested_message, **kwargs})
        return result201.TriggerMessage(status="Accepted")

    @on(Action201.change_availability)
    def _availability(self, operational_status: str, **kwargs: Any) -> Any:
        self._record("ChangeAvailability", {"operational_status": operational_status, **kwargs})
        return result201.ChangeAvailability(status="Accepted")

    @on(Action201.request_stop_transaction)
    def _request_stop(self, transaction_id: str, **_: Any) -> Any:
        self._record("RequestStopTransaction", {"transaction_id": transaction_id})
        return result201.RequestStopTransaction(status="Accepted")

    def limit(self, profile_id: int) -> float | None:
        prof = self.profiles.get(profile_id)
        if prof is None:
            return None
        return float(prof["charging_schedule"][0]["charging_schedule_period"][0]["limit"])


async def _serve_box(box: Any) -> None:
    with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
        await box.start()


@contextlib.asynccontextmanager
async def connect(
    port: int,
    cb_id: str,
    *,
    version: str = "1.6",
    scheme: str = "ws",
    prefix: str = "/ocpp/",
    subprotocols: list[str] | None = None,
    headers: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    boot: bool = True,
    status: bool = True,
    **box_opts: Any,
) -> AsyncIterator[Any]:
    """A charge point connected to the server (booted and Available unless told otherwise)."""
    protos = subprotocols if subprotocols is not None else [f"ocpp{version}"]
    ws = await websockets.connect(
        f"{scheme}://127.0.0.1:{port}{prefix}{cb_id}",
        subprotocols=protos or None,  # type: ignore[arg-type]
        additional_headers=headers,
        ssl=ssl_context,
        open_timeout=WAIT_S,
        close_timeout=2,
    )
    box = (Box201 if version == "2.0.1" else Box16)(cb_id.split("/")[-1], ws, **box_opts)
    task = asyncio.get_running_loop().create_task(_serve_box(box))
    try:
        if boot:
            if version == "2.0.1":
                await box.call(
                    call201.BootNotification(
                        charging_station={"vendor_name": "Vend", "model": "M2"},
                        reason="PowerUp",
                    )
                )
            else:
                await box.call(
                    call16.BootNotification(charge_point_vendor="Vend", charge_point_model="M1")
                )
        if status:
            if version == "2.0.1":
                await box.call(
                    call201.StatusNotification(
                        timestamp="2026-01-01T00:00:00Z",
                        connector_status="Available",
                        evse_id=1,
                        connector_id=1,
                    )
                )
            else:
                await box.call(
                    call16.StatusNotification(
                        connector_id=1, error_code="NoError", status="Available"
                    )
                )
        yield box
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await ws.close()


@contextlib.asynccontextmanager
async def running_server(
    data_dir: Path, **settings: Any
) -> AsyncIterator[tuple[OcppServer, Hooks]]:
    hooks = Hooks(data_dir)
    server = OcppServer(OcppSettings(host="127.0.0.1", port=0, **settings), hooks, data_dir)
    await server.start()
    try:
        yield server, hooks
    finally:
        await server.stop()
        hooks.sessions.close()


async def until(pred: Callable[[], bool], what: str = "condition") -> None:
    """Wait (bounded) until pred() holds; polls the event loop, no fixed sleeps in asserts."""
    async with asyncio.timeout(WAIT_S):
        while not pred():  # noqa: ASYNC110 - state lives in other objects; bounded
            await asyncio.sleep(0.01)


async def raw_client(port: int, cb_id: str, subprotocol: str = "ocpp1.6") -> Any:
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/{cb_id}",
        subprotocols=[subprotocol],  # type: ignore[list-item]
        open_timeout=WAIT_S,
        close_timeout=2,
        compression=None,
    )


def evse(server: Any, cb_id: str, **opts: Any) -> OcppEvse:
    """The `ocpp` wallbox driver for one charge point, as the manager would build it."""
    spec = DeviceSpec("wb1", "Garage", "evse", "ocpp", cb_id, opts)
    return OcppEvse(spec, OcppEvseOptions.model_validate(opts), server)


async def ready(server: Any, cb_id: str) -> None:
    """Wait until the server finished setting the box up after boot."""

    def done() -> bool:
        conn = server.connection(cb_id)
        return conn is not None and conn._followup is not None and conn._followup.done()

    await until(done)
