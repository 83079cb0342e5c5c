"""Provider API on PostgreSQL: the same order sent twice at the same moment with one Idempotency-Key."""

import threading

import pytest
from django.db import connection, transaction

from cos.models import AddressObject
from marketplace.models import Order, Subscription
from tests.marketplace.api.conftest import order_body, provider_client
from tests.marketplace.factories import world

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _sessions_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is otherwise frozen for the transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def send_twice_at_once(w, body: dict, key: str, wait_until) -> list:
    """POST the body from two threads (each its own client and connection) released together by a barrier.

    While they start, the test holds the address row, so both requests are in flight before either can
    finish; it lets go once both wait (or one has finished without waiting).
    """
    clients = [provider_client(w.provider), provider_client(w.provider)]
    barrier = threading.Barrier(len(clients) + 1)
    responses = [None] * len(clients)

    def send(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            responses[i] = clients[i].post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    with transaction.atomic():
        AddressObject.objects.select_for_update().get(pk=w.address.pk)
        for thread in threads:
            thread.start()
        barrier.wait(timeout=10)
        wait_until(
            lambda: _sessions_waiting_for_a_lock() == len(threads) or not all(t.is_alive() for t in threads),
            message="both requests to be in flight",
        )
    for thread in threads:
        thread.join(timeout=30)
    assert all(response is not None for response in responses), "a request thread failed"
    return responses


def test_the_same_order_sent_twice_at_once_with_one_key_makes_one_order(wait_until):
    # given
    w = world()

    # when
    responses = send_twice_at_once(w, order_body(w), "same-moment", wait_until)

    # then
    assert 201 in [response.status_code for response in responses]
    assert Order.objects.count() == 1
    assert Subscription.objects.count() == 1


def test_the_same_order_sent_twice_at_once_with_one_key_returns_that_order_to_both(wait_until):
    # given
    w = world()

    # when
    responses = send_twice_at_once(w, order_body(w), "same-moment", wait_until)

    # then
    assert sorted(response.status_code for response in responses) == [200, 201], [r.json() for r in responses]
    assert Order.objects.count() == 1
    assert {response.json()["id"] for response in responses} == {Order.objects.get().pk}
