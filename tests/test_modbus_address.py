"""Address syntax and register decoding: what users type and what meters send."""

from __future__ import annotations

import math

import pytest

from devices.modbus import codec
from devices.modbus.address import AddressError, SerialSettings, parse_address
from devices.modbus.unit import plan_reads


def test_tcp_addresses_with_default_and_explicit_port() -> None:
    a = parse_address("192.168.1.20", default_port=4701)
    assert (a.framing, a.host, a.port, a.serial_bus) == ("socket", "192.168.1.20", 4701, False)
    assert parse_address("box.local:1502").port == 1502
    assert parse_address("tcp://box.local:1502").host == "box.local"
    v6 = parse_address("[fe80::1]:503")
    assert (v6.host, v6.port) == ("fe80::1", 503)
    assert v6.describe() == "[fe80::1]:503"


def test_gateway_and_serial_addresses() -> None:
    g = parse_address("rtu-tcp:10.0.0.5:8899")
    assert (g.framing, g.host, g.port, g.serial_bus) == ("rtu", "10.0.0.5", 8899, True)
    assert parse_address("ascii-tcp:gw").port == 502
    s = parse_address(
        "rtu:/dev/ttyUSB0?baud=19200&parity=e&stopbits=2",
        default_serial=SerialSettings(9600, "N", 1, 8),
    )
    assert s.device == "/dev/ttyUSB0"
    assert s.serial == SerialSettings(19200, "E", 2, 8)
    assert s.key == ("serial", "/dev/ttyUSB0")
    d = parse_address("ascii:/dev/ttyAMA0", default_serial=SerialSettings(38400, "E", 1, 8))
    assert d.serial == SerialSettings(38400, "E", 1, 8) and d.framing == "ascii"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("host:99999", "port must be a number"),
        ("host:abc", "port must be a number"),
        ("fe80::1", "brackets"),
        ("[fe80::1", "missing ']'"),
        ("rtu:", "serial port"),
        ("rtu:/dev/ttyUSB0?baud=12345", "baud must be one of"),
        ("rtu:/dev/ttyUSB0?parity=X", "parity must be N, E or O"),
        ("rtu:/dev/ttyUSB0?speed=9600", "unknown serial setting"),
        ("/dev/ttyUSB0", "not understood"),
        ("http://box", "not understood"),
        (":502", "host name or IP address is missing"),
    ],
)
def test_bad_addresses_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(AddressError, match=words):
        parse_address(text)


def test_decoders_turn_markers_and_nan_into_none() -> None:
    assert codec.f32(codec.enc_f32(231.4)) == 231.4
    assert codec.f32(codec.enc_f32(-5.2, "little"), "little") == -5.2
    assert codec.f32(codec.enc_f32(math.nan)) is None
    assert codec.f32([0x7F80, 0]) is None  # +inf
    assert codec.f64(codec.enc_f64(123456.789)) == 123456.789
    assert codec.u32([0xFFFF, 0xFFFF]) is None
    assert codec.i32([0x8000, 0]) is None
    assert codec.i32(codec.enc_i32(-1234, "little"), "little") == -1234
    assert codec.u64([0xFFFF] * 4) is None
    assert codec.u64(codec.enc_u64(10**12)) == 10**12
    assert codec.i16([0x8000]) is None and codec.i16([0xFFFE]) == -2
    assert codec.u16([0xFFFF]) is None
    assert codec.text(codec.enc_text("C2", 5)) == "C2"


def test_reads_are_merged_only_where_registers_touch() -> None:
    assert plan_reads([(0x48, 4), (0, 18), (0x34, 2)], 40) == [(0, 18), (0x34, 2), (0x48, 4)]
    assert plan_reads([(0, 2), (2, 2), (4, 2)], 40) == [(0, 6)]
    assert plan_reads([(0, 18)], 10) == [(0, 10), (10, 8)]
