"""Admin password hashing and the throttle on failed logins."""

from __future__ import annotations

import pytest

from manager.auth import LoginThrottle, Throttled, hash_password, verify_password


def test_hash_is_salted_and_verifies() -> None:
    a, b = hash_password("secret"), hash_password("secret")
    assert a != b and "secret" not in a
    assert verify_password("secret", a)
    assert not verify_password("Secret", a)
    assert not verify_password("secret", "garbage")


def test_throttle_backs_off_after_free_attempts() -> None:
    now = [0.0]
    t = LoginThrottle(free=3, clock=lambda: now[0])
    for _ in range(3):
        t.check("1.2.3.4")
        t.failed("1.2.3.4")
    with pytest.raises(Throttled) as err:
        t.check("1.2.3.4")
    assert err.value.retry_after_s > 0
    t.check("5.6.7.8")  # other clients are not affected
    now[0] += 10
    t.check("1.2.3.4")
    t.succeeded("1.2.3.4")
    t.failed("1.2.3.4")
    t.check("1.2.3.4")
