"""Register words to numbers, with each vendor's word order and "no value" markers.

Every decoder returns None for a marker or a NaN/infinite float, so that a meter that has no
value is never mistaken for one that measures zero.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Literal

WordOrder = Literal["big", "little"]


def _words(regs: Sequence[int], n: int, order: WordOrder) -> bytes:
    if len(regs) < n:
        raise ValueError(f"need {n} registers, got {len(regs)}")
    words = list(regs[:n])
    if order == "little":
        words.reverse()
    return b"".join(struct.pack(">H", w & 0xFFFF) for w in words)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def f32(regs: Sequence[int], order: WordOrder = "big") -> float | None:
    """float32, shortened to the 7 digits it carries (5.2, not 5.199999809265137)."""
    value = _finite(struct.unpack(">f", _words(regs, 2, order))[0])
    return None if value is None else float(f"{value:.7g}")


def f64(regs: Sequence[int], order: WordOrder = "big") -> float | None:
    return _finite(struct.unpack(">d", _words(regs, 4, order))[0])


def u16(regs: Sequence[int], marker: int | None = 0xFFFF) -> int | None:
    value = regs[0] & 0xFFFF
    return None if value == marker else value


def i16(regs: Sequence[int], marker: int | None = -0x8000) -> int | None:
    value = struct.unpack(">h", struct.pack(">H", regs[0] & 0xFFFF))[0]
    return None if value == marker else value


def u32(
    regs: Sequence[int], order: WordOrder = "big", marker: int | None = 0xFFFFFFFF
) -> int | None:
    value = struct.unpack(">I", _words(regs, 2, order))[0]
    return None if value == marker else value


def i32(
    regs: Sequence[int], order: WordOrder = "big", marker: int | None = -0x80000000
) -> int | None:
    value = struct.unpack(">i", _words(regs, 2, order))[0]
    return None if value == marker else value


def u64(
    regs: Sequence[int], order: WordOrder = "big", marker: int | None = 0xFFFFFFFFFFFFFFFF
) -> int | None:
    value = struct.unpack(">Q", _words(regs, 4, order))[0]
    return None if value == marker else value


def text(regs: Sequence[int], *, low_byte_first: bool = False) -> str:
    """ASCII packed two characters per register, NULs and padding stripped."""
    raw = b"".join(struct.pack("<H" if low_byte_first else ">H", r & 0xFFFF) for r in regs)
    return raw.split(b"\x00", 1)[0].decode("ascii", "replace").strip()


def scaled(value: float | None, factor: float) -> float | None:
    """value * factor without binary noise (231.2, not 231.20000000000002)."""
    return None if value is None else round(value * factor, 6)


# ---- encoders (used to write setpoints and, in tests, to fill emulated registers) ----------


def _to_regs(raw: bytes, order: WordOrder) -> list[int]:
    words = [struct.unpack(">H", raw[i : i + 2])[0] for i in range(0, len(raw), 2)]
    if order == "little":
        words.reverse()
    return words


def enc_f32(value: float, order: WordOrder = "big") -> list[int]:
    return _to_regs(struct.pack(">f", value), order)


def enc_f64(value: float, order: WordOrder = "big") -> list[int]:
    return _to_regs(struct.pack(">d", value), order)


def enc_u32(value: int, order: WordOrder = "big") -> list[int]:
    return _to_regs(struct.pack(">I", value & 0xFFFFFFFF), order)


def enc_i32(value: int, order: WordOrder = "big") -> list[int]:
    return _to_regs(struct.pack(">i", value), order)


def enc_u64(value: int, order: WordOrder = "big") -> list[int]:
    return _to_regs(struct.pack(">Q", value), order)


def enc_i16(value: int) -> list[int]:
    return [value & 0xFFFF]


def enc_text(value: str, n_regs: int) -> list[int]:
    raw = value.encode("ascii").ljust(n_regs * 2, b"\x00")[: n_regs * 2]
    return [struct.unpack(">H", raw[i : i + 2])[0] for i in range(0, len(raw), 2)]
