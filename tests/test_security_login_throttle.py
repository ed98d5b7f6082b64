"""The sign-in throttle slows down guessing, and its delays wear off after a quiet period."""

from __future__ import annotations

from backend.http import MAX_LOGIN_DELAY, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_double_the_delay_up_to_the_cap():
    throttle = LoginThrottle(0.25, forget_after=900, clock=Clock())
    delays = []
    for _ in range(8):
        delays.append(throttle.delay("user:bob", "addr:10.0.0.1"))
        throttle.failed("user:bob", "addr:10.0.0.1")
    assert delays == [0.0, 0.25, 0.5, 1.0, 2.0, 4.0, MAX_LOGIN_DELAY, MAX_LOGIN_DELAY]
    assert throttle.delay("user:ann", "addr:10.0.0.2") == 0.0


def test_a_quiet_period_forgets_the_failures():
    clock = Clock()
    throttle = LoginThrottle(0.25, forget_after=900, clock=clock)
    for _ in range(5):
        throttle.failed("user:bob")
    clock.now += 899
    assert throttle.delay("user:bob") == 4.0  # not quiet long enough: still slowed
    throttle.failed("user:bob")  # a new failure restarts the quiet period
    clock.now += 899
    assert throttle.delay("user:bob") == MAX_LOGIN_DELAY
    clock.now += 1
    assert throttle.delay("user:bob") == 0.0
    throttle.failed("user:bob")
    assert throttle.delay("user:bob") == 0.25  # counted from one again


def test_a_success_forgets_the_failures():
    throttle = LoginThrottle(0.25, clock=Clock())
    throttle.failed("user:bob")
    throttle.failed("user:bob")
    throttle.succeeded("user:bob")
    assert throttle.delay("user:bob") == 0.0
