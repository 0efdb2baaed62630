"""Firmware and log files over HTTP.

- `/transfer/{token}`: the one-time URL a box uses (no login: a box cannot log in). GET
  fetches the firmware it was told to install; PUT or POST (raw body or multipart form) uploads
  its diagnostics/log. Each token works once and for at most 30 minutes.
- `/api/firmware` (admin): upload a firmware file (raw body, `?name=`), list them.
- `/api/logs/{file_id}` (admin): download a log a box uploaded.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from manager.service import NotFound, Service, TransferError

log = logging.getLogger(__name__)

#: a multipart envelope may add this much to the file itself
_ENVELOPE = 64 * 1024
_CHUNK = 256 * 1024
_MAX_UPLOAD = 64 * 1024 * 1024


def _error(exc: TransferError) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


async def _form_file(item: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await item.read(_CHUNK):
        yield chunk


class TransferRoutes:
    def __init__(self, service: Service) -> None:
        self.service = service

    def routes(self) -> list[Route]:
        return [
            Route("/transfer/{token}", self.transfer, methods=["GET", "HEAD", "PUT", "POST"]),
            Route("/api/firmware", self.firmware, methods=["GET", "POST"]),
            Route("/api/logs/{file_id}", self.log_file),
        ]

    async def transfer(self, request: Request) -> Response:
        token = request.path_params["token"]
        transfers = self.service.transfers()
        try:
            if request.method == "HEAD":  # a probe does not use the link up
                transfers.check_download(token)
                return Response(media_type="application/octet-stream")
            if request.method == "GET":
                path = transfers.take_download(token)
                log.info("firmware %s fetched by a box", path.name)
                return FileResponse(path, media_type="application/octet-stream")
            row = await self._receive(request, token)
        except TransferError as exc:
            log.warning("refused transfer %s %s: %s", request.method, request.url.path[:24], exc)
            return _error(exc)
        log.info("log %s (%d bytes) uploaded by %s", row["id"], row["size"], row["box"])
        return JSONResponse(row, status_code=201)

    async def _receive(self, request: Request, token: str) -> dict[str, Any]:
        transfers = self.service.transfers()
        ctype = request.headers.get("content-type", "")
        name = request.query_params.get("name") or "log.txt"
        if not ctype.startswith("multipart/form-data"):
            return await transfers.receive_upload(token, name, request.stream())
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > _MAX_UPLOAD + _ENVELOPE:
            raise TransferError(413, "a form upload needs a Content-Length up to 64 MiB")
        async with request.form(max_files=1, max_fields=8) as form:
            item = next((v for v in form.values() if isinstance(v, UploadFile)), None)
            if item is None:
                raise TransferError(422, "the form holds no file")
            return await transfers.receive_upload(token, item.filename or name, _form_file(item))

    async def firmware(self, request: Request) -> Response:
        transfers = self.service.transfers()
        if request.method == "GET":
            return JSONResponse(transfers.list("firmware"), headers={"cache-control": "no-store"})
        name = request.query_params.get("name") or "firmware.bin"
        try:
            row = await transfers.store_firmware(name, request.stream())
        except TransferError as exc:
            return _error(exc)
        log.info("firmware %s uploaded (%d bytes)", row["id"], row["size"])
        return JSONResponse(row, status_code=201)

    async def log_file(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        path = self.service.transfers().log_file(file_id)
        if path is None:
            raise NotFound(f"no log file {file_id!r}")
        return FileResponse(path, media_type="application/octet-stream", filename=file_id)
