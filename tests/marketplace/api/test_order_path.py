"""Provider API: what makes placing an order fast is pinned here — its statements, the indexes its lookups use,
and the order written in one statement being the same rows as the ORM writes."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from cos.models import Customer, TransitionLog
from marketplace.models import Order, OrderLine
from tests.cos.factories import AddressFactory
from tests.marketplace.api.conftest import order_body

pytestmark = pytest.mark.django_db

# token + user + provider; the returning customer; under the address lock: the address, the idempotency key, the
# market's version, the address's holdings; customer, order, log and lines in one statement; the event and its
# handler runs in another (the outbox). Plus the savepoint and its release (BEGIN and COMMIT in production).
STATEMENTS_PER_ORDER_POSTGRES = 8 + 2
# SQLite writes each table's rows in a statement of its own: customer, order, log, lines; event, handler runs.
STATEMENTS_PER_ORDER_SQLITE = STATEMENTS_PER_ORDER_POSTGRES + 3 + 1


def _body(w, n: int, **customer) -> dict:
    """An order of internet and TV for customer n at an address of its own."""
    address = AddressFactory(area=w.area, status="connected")
    body = order_body(w, w.internet, w.tv, address=address.pk)
    body["customer"] = {**body["customer"], "email": f"customer{n}@example.test", **customer}
    return body


def _post(api, w, n: int, body: dict | None = None, **customer):
    body = body or _body(w, n, **customer)
    return api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"key-{n}")


def test_placing_an_order_costs_a_fixed_number_of_statements(w, api):
    # given: the market snapshot is warm (a first order)
    assert _post(api, w, 0).status_code == 201
    expected = STATEMENTS_PER_ORDER_POSTGRES if connection.vendor == "postgresql" else STATEMENTS_PER_ORDER_SQLITE

    bodies = [_body(w, 1), _body(w, 2)]

    # when: two orders of two lines each
    with CaptureQueriesContext(connection) as first:
        response = _post(api, w, 1, bodies[0])
    with CaptureQueriesContext(connection) as second:
        _post(api, w, 2, bodies[1])

    # then: the same statements each time, and the response is the order as stored
    assert response.status_code == 201, response.content
    assert len(first) == len(second) == expected, "\n".join(q["sql"][:70] for q in first.captured_queries)
    order = Order.objects.get(pk=response.json()["id"])
    assert response.json()["status"] == order.status == "submitted"
    assert [line["id"] for line in response.json()["lines"]] == list(
        order.lines.order_by("pk").values_list("pk", flat=True)
    )
    assert response.json()["customer"]["id"] == order.customer_id
    assert response.json()["address"]["area"] == w.area.code


def test_an_order_is_written_submitted_with_its_transition_logged_once(w, api):
    # when
    response = _post(api, w, 1)

    # then: no draft ever stored; the log says who submitted it
    order = Order.objects.get(pk=response.json()["id"])
    logs = TransitionLog.objects.filter(content_type=ContentType.objects.get_for_model(Order), object_id=order.pk)
    assert [(log.source, log.target, log.actor_id) for log in logs] == [("draft", "submitted", order.placed_by_id)]
    assert order.submitted_at == order.terms_accepted_at


def test_a_retry_with_the_same_key_returns_the_stored_order_without_writing(w, api):
    # given
    first = _post(api, w, 1)
    orders, lines = Order.objects.count(), OrderLine.objects.count()
    address = first.json()["address"]["id"]
    body = order_body(w, w.internet, w.tv, address=address)
    body["customer"] = {**body["customer"], "email": "customer1@example.test"}

    # when
    again = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    # then
    assert again.status_code == 200
    assert again.json() == first.json()
    assert (Order.objects.count(), OrderLine.objects.count()) == (orders, lines)


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cos_customer")
        cursor.execute("ANALYZE auth_user")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
def test_the_returning_customer_lookup_uses_an_index_whatever_the_case_of_the_email(w):
    # given: a provider with thousands of customers
    Customer.objects.bulk_create(
        Customer(
            customer_type="residential",
            first_name="C",
            last_name=str(n),
            email=f"Customer{n}@Example.test",
            billing_street="Storgatan 1",
            billing_postal_code="72110",
            billing_city="Västerås",
        )
        for n in range(5000)
    )

    # when: the lookup the order API makes
    plan = _plan(Customer.objects.filter(email__iexact="customer42@example.TEST", customer_type="residential"))

    # then
    assert "customer_email_upper" in plan, plan
    assert Customer.objects.filter(email__iexact="customer42@example.TEST").count() == 1


@pytest.mark.postgres
def test_the_checkouts_login_check_uses_an_index(w):
    # given
    get_user_model().objects.bulk_create(get_user_model()(username=f"User{n}@example.test") for n in range(5000))

    # when: "is there a login with this e-mail already"
    plan = _plan(get_user_model().objects.filter(username__iexact="user42@EXAMPLE.test"))

    # then
    assert "auth_user_username_upper" in plan, plan


@pytest.mark.postgres
def test_the_order_written_in_one_statement_is_the_rows_the_orm_writes(w, api, monkeypatch):
    # when: the same order placed in one statement (PostgreSQL) and group by group (as on other databases)
    one = _post(api, w, 1, first_name="Ett")
    monkeypatch.setattr(connection, "vendor", "sqlite-like")
    grouped = _post(api, w, 2, first_name="Ett")
    monkeypatch.undo()

    # then: field for field the same, but for ids, times, addresses and the keys that differ on purpose
    def rows(response) -> dict:
        order = Order.objects.get(pk=response.json()["id"])
        ignore = {"id", "created_at", "updated_at", "address", "idempotency_key", "request_fingerprint"}
        times = {"terms_accepted_at", "submitted_at"}
        log = TransitionLog.objects.get(content_type=ContentType.objects.get_for_model(Order), object_id=order.pk)
        return {
            "order": {k: v for k, v in model_to_dict(order).items() if k not in ignore | times | {"customer"}},
            "customer": {k: v for k, v in model_to_dict(order.customer).items() if k not in ignore | {"email"}},
            "lines": [
                {k: v for k, v in model_to_dict(line).items() if k not in ignore | {"order"}}
                for line in order.lines.order_by("pk")
            ],
            "log": (log.transition, log.source, log.target, log.actor_id, log.reason),
        }

    assert rows(one) == rows(grouped)
    assert len(rows(one)["lines"]) == 2
