"""The delivery state machine, without sockets: attempts, retries, order, faults, cancelling."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest

from reader_mock.contract import webhook_delivery_rules
from reader_mock.core.delivery import Attempt, Delivery, DeliverySchedule, Target

T0 = 1_767_225_600.0
SECRET = "a-secret-of-16-chars"
TARGET = Target("http://127.0.0.1:9/hooks", SECRET, (("X-Custom", "yes"),))


def schedule() -> DeliverySchedule:
    return DeliverySchedule(webhook_delivery_rules(), seed=7)


def add(book: DeliverySchedule, event: str = "job.completed", *, target: str = "w/1") -> None:
    book.add(event, b'{"jobId":"j"}', target=target, now=T0, signed=True, webhook_id="1")


def take(book: DeliverySchedule, now: float) -> list[Attempt]:
    return book.take_due(now, lambda delivery: TARGET)


def headers(attempt: Attempt) -> dict[str, str]:
    return dict(attempt.headers)


def test_three_attempts_one_and_four_seconds_apart_with_one_delivery_id() -> None:
    book = schedule()
    add(book)
    first = take(book, T0)
    assert len(first) == 1 and first[0].deadline == T0 + 10
    book.finish(first[0], T0 + 0.2, status=500, error=None)
    assert book.next_due() == T0 + 1.2
    assert take(book, T0 + 1.1) == []
    second = take(book, T0 + 1.2)
    book.finish(second[0], T0 + 1.2, status=None, error="refused")
    assert take(book, T0 + 5.1) == []
    third = take(book, T0 + 5.2)
    finished = book.finish(third[0], T0 + 5.3, status=503, error=None)
    assert finished is not None and finished.gave_up and not finished.succeeded
    assert book.next_due() is None
    ids = {headers(a)["X-Reader-Delivery"] for a in (*first, *second, *third)}
    assert len(ids) == 1
    uuid.UUID(ids.pop(), version=4)
    assert [a.number for a in (*first, *second, *third)] == [1, 2, 3]
    assert [r.outcome for r in book.records()] == ["failed", "failed", "failed"]
    assert [r.final for r in book.records()] == [False, False, True]


def test_timestamp_and_signature_are_made_per_attempt() -> None:
    book = schedule()
    add(book)
    first = take(book, T0)[0]
    book.finish(first, T0, status=429, error=None)
    second = take(book, T0 + 1.7)[0]
    for attempt, stamp in ((first, int(T0)), (second, int(T0 + 1.7))):
        sent = headers(attempt)
        assert sent["X-Reader-Timestamp"] == str(stamp)
        mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + attempt.body, hashlib.sha256)
        assert sent["X-Reader-Signature"] == "sha256=" + mac.hexdigest()
        assert sent["User-Agent"] == "Reader-Webhook/1.0"
        assert sent["X-Custom"] == "yes"


def test_any_2xx_succeeds_at_once() -> None:
    book = schedule()
    add(book)
    finished = book.finish(take(book, T0)[0], T0, status=204, error=None)
    assert finished is not None and finished.succeeded
    assert book.next_due() is None


def test_unsigned_deliveries_carry_no_signature_headers() -> None:
    book = schedule()
    book.add("job.failed", b"{}", target="w/1", now=T0, signed=False)
    attempt = book.take_due(T0, lambda d: Target("http://x/", None))[0]
    assert set(headers(attempt)) == {
        "Content-Type",
        "User-Agent",
        "X-Reader-Event",
        "X-Reader-Delivery",
    }


def test_one_attempt_at_a_time_per_target_in_order_and_a_retry_does_not_block() -> None:
    book = schedule()
    for event in ("job.started", "job.page", "job.completed"):
        add(book, event)
    add(book, "job.started", target="w/2")
    started = take(book, T0)
    assert [(a.delivery.target, a.delivery.event) for a in started] == [
        ("w/1", "job.started"),
        ("w/2", "job.started"),
    ]
    assert take(book, T0) == []  # w/1 has one in flight
    book.finish(started[0], T0, status=500, error=None)
    following = take(book, T0)
    assert [a.delivery.event for a in following] == ["job.page"]  # the retry waits its second


def test_cancel_stops_pending_attempts_and_retries() -> None:
    book = schedule()
    add(book)
    add(book, "job.page")
    attempt = take(book, T0)[0]
    assert book.cancel(lambda delivery: delivery.target == "w/1") == 2
    finished = book.finish(attempt, T0, status=500, error=None)
    assert finished is not None and not finished.gave_up
    assert take(book, T0 + 100) == [] and book.next_due() is None


def test_a_target_gone_cancels_its_delivery() -> None:
    book = schedule()
    add(book)
    assert book.take_due(T0, lambda delivery: None) == []
    assert book.next_due() is None


def test_clear_ignores_answers_of_earlier_attempts() -> None:
    book = schedule()
    add(book)
    attempt = take(book, T0)[0]
    book.clear()
    assert book.finish(attempt, T0, status=500, error=None) is None
    assert book.records() == [] and book.next_due() is None


def test_delivery_ids_repeat_for_the_same_seed() -> None:
    ids = []
    for _ in range(2):
        book = schedule()
        add(book)
        ids.append(headers(take(book, T0)[0])["X-Reader-Delivery"])
    assert ids[0] == ids[1]


def test_duplicate_sends_two_deliveries_with_one_id() -> None:
    book = schedule()
    book.add_fault("duplicate", event="job.completed", seconds=None)
    add(book, "job.page")
    add(book)
    first = take(book, T0)
    book.finish(first[0], T0, status=200, error=None)
    second = take(book, T0)
    book.finish(second[0], T0, status=200, error=None)
    third = take(book, T0)
    events = [a.delivery.event for a in (*first, *second, *third)]
    assert events == ["job.page", "job.completed", "job.completed"]
    assert headers(second[0])["X-Reader-Delivery"] == headers(third[0])["X-Reader-Delivery"]
    assert book.faults() == []


def test_out_of_order_lets_the_next_delivery_pass() -> None:
    book = schedule()
    book.add_fault("out_of_order", seconds=None)
    add(book, "job.started")
    assert take(book, T0) == []  # held for the next one
    add(book, "job.page")
    sent = []
    while attempts := take(book, T0):
        sent.append(attempts[0].delivery.event)
        book.finish(attempts[0], T0, status=200, error=None)
    assert sent == ["job.page", "job.started"]


def test_out_of_order_waits_at_most_its_seconds() -> None:
    book = schedule()
    book.add_fault("out_of_order", seconds=3)
    add(book)
    assert take(book, T0 + 2.9) == []
    assert len(take(book, T0 + 3)) == 1


def test_delay_starts_late() -> None:
    book = schedule()
    book.add_fault("delay", seconds=2.5, count=2)
    add(book)
    assert book.next_due() == T0 + 2.5
    assert take(book, T0 + 2.4) == []
    assert len(take(book, T0 + 2.5)) == 1
    assert book.faults()[0].remaining == 1


@pytest.mark.parametrize("kind", ["wrong_signature", "stale_timestamp"])
def test_signature_faults_touch_the_first_attempt_only(kind: str) -> None:
    book = schedule()
    book.add_fault(kind, seconds=None)  # type: ignore[arg-type]
    book.add("job.failed", b"{}", target="w/1", now=T0, signed=False)  # unsigned: skipped
    add(book)
    unsigned = book.take_due(T0, lambda d: Target("http://x/", None))[0]
    assert unsigned.record.faults == ()
    book.finish(unsigned, T0, status=200, error=None)
    first = take(book, T0)[0]
    book.finish(first, T0, status=400, error=None)
    retry = take(book, T0 + 1)[0]
    assert first.record.faults == (kind,) and retry.record.faults == ()
    stamp = headers(first)["X-Reader-Timestamp"]
    good = (
        "sha256="
        + hmac.new(SECRET.encode(), stamp.encode() + b"." + first.body, hashlib.sha256).hexdigest()
    )
    if kind == "wrong_signature":
        assert stamp == str(int(T0)) and headers(first)["X-Reader-Signature"] != good
    else:
        assert stamp == str(int(T0) - 600) and headers(first)["X-Reader-Signature"] == good
    assert headers(retry)["X-Reader-Timestamp"] == str(int(T0 + 1))


def test_records_are_bounded() -> None:
    from reader_mock.core import delivery

    book = schedule()
    for _ in range(delivery.MAX_RECORDS + 5):
        add(book)
        book.finish(take(book, T0)[0], T0, status=200, error=None)
    assert len(book.records()) == delivery.MAX_RECORDS and book.dropped == 5


def test_a_delivery_knows_its_place() -> None:
    book = schedule()
    made = book.add("job.page", b"{}", target="w/x", now=T0, signed=False, job_id="job_1")
    assert isinstance(made[0], Delivery) and made[0].job_id == "job_1"


def test_a_body_that_cannot_be_made_is_reported_and_never_sent() -> None:
    from reader_mock.core.delivery import Body

    reported: list[BaseException] = []
    book = DeliverySchedule(webhook_delivery_rules(), on_bad_body=reported.append)

    def refuse() -> bytes:
        raise ValueError("not valid")

    book.add("job.page", Body(refuse), target="w/1", now=T0, signed=True)
    add(book, "job.completed")
    attempts = take(book, T0)
    assert [a.delivery.event for a in attempts] == ["job.completed"]
    assert [str(e) for e in reported] == ["not valid"]


def test_a_body_is_made_once_for_every_target() -> None:
    from reader_mock.core.delivery import Body

    made: list[int] = []

    def make() -> bytes:
        made.append(1)
        return b"{}"

    book = schedule()
    body = Body(make)
    for target in ("w/1", "w/2", "w/3"):
        book.add("job.page", body, target=target, now=T0, signed=False)
    assert made == []  # nothing is made while events are published
    assert len(take(book, T0)) == 3 and made == [1]
