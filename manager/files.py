"""Writing a file so that a power cut leaves the old or the new one, never a torn one.

A leaf module: it imports nothing of the project, so the drivers may use it as they use
manager.model (the OCPP server stores its certificate with it) and there is one such helper.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Temp file beside `path` (with `mode` if given), fsync, rename over `path`, fsync the folder.

    A reader sees either the old or the new complete file. On any error the temp file is
    removed and the old file is left as it was.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
