"""Events are worded at the edge from their kind and parameters; old events stay readable."""

from __future__ import annotations

from manager.model import Reason
from web import event_words
from web.event_words import device_names, kind_word, shown_event


def test_every_kind_and_message_has_german() -> None:
    assert set(event_words.KINDS_EN) == set(event_words.KINDS_DE)
    assert set(event_words.MESSAGES_EN) == set(event_words.MESSAGES_DE)
    assert set(event_words.MESSAGES_EN) <= set(event_words.KINDS_EN)


def test_an_event_in_words_with_the_device_named_one_way() -> None:
    devices = [
        {"id": "street-1", "name": "Street", "driver": "ocpp", "address": "STREET-1"},
        {"id": "carport", "name": "Carport", "driver": "sim-evse", "address": ""},
    ]
    names = device_names(devices)
    assert names == {"STREET-1": "Street", "street-1": "Street", "carport": "Carport"}
    gone = {"kind": "charge_point_disconnected", "device": "STREET-1", "message": "STREET-1 x"}
    assert shown_event(gone, names, "de")["text"] == "Street getrennt"
    assert shown_event(gone, names, "de")["kind_text"] == "Ladepunkt getrennt"
    back = {
        "kind": "deactivated",
        "device": "carport",
        "message": "Carport handed back (released_failsafe(amps=6.5))",
        "params": {"name": "Carport", "result": Reason("released_failsafe", {"amps": 6.5}).data()},
    }
    shown = shown_event(back, names, "de")
    assert shown["text"] == (
        "Carport an die eigene Steuerung zurückgegeben: an eigenen Sicherheitsstrom 6,5 A übergeben"
    )
    assert shown["device_name"] == "Carport"


def test_old_events_keep_their_message_and_unknown_kinds_read_as_words() -> None:
    old = {"kind": "offline", "device": "x", "message": "X: timed out"}  # no params yet
    assert shown_event(old, {}, "de")["text"] == "X: timed out"
    assert kind_word("something_new", "de") == "Something new"
    partial = {"kind": "overload", "params": {"phase": "L1"}, "message": "grid L1 high"}
    assert shown_event(partial, {}, "en")["text"] == "grid L1 high"
