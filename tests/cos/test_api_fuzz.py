"""The provider API against its own OpenAPI schema, fuzzed by schemathesis: every operation with valid and invalid
data (schema examples, boundary values, random cases), then sequences along the links between operations, each
request as a provider with rows of every kind, all checks on. Any server error, or any answer that its schema does
not document, fails the run.

Bounded for CI: COS_FUZZ_MAX_EXAMPLES random cases an operation (10) and COS_FUZZ_STATEFUL_SCENARIOS sequences
(10), from a fixed seed (COS_FUZZ_SEED) and derandomized sequences, so a failure in CI reproduces; a few minutes on
PostgreSQL. Raise them for a deeper run, e.g. COS_FUZZ_MAX_EXAMPLES=150 COS_FUZZ_STATEFUL_SCENARIOS=60
COS_FUZZ_SEED=$RANDOM. The figures (operations, cases, stateful steps, failures) are printed at the end of the module.
"""

import json
import os
from collections import Counter
from contextlib import contextmanager

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from django.test import TestCase
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from cos.api import urls as api_urls
from cos.services import api_token_issue, membership_grant
from cos.wsgi import application
from marketplace import services
from tests.cos.factories import AddressFactory, UserFactory
from tests.marketplace.api.conftest import order_body, provider_client
from tests.marketplace.api.test_tenancy import seed_webhook_endpoint, settle_last_month
from tests.marketplace.factories import PromotionFactory, world

MAX_EXAMPLES = int(os.environ.get("COS_FUZZ_MAX_EXAMPLES", "10"))
SEED = int(os.environ.get("COS_FUZZ_SEED", "20261201"))
STATEFUL_SCENARIOS = int(os.environ.get("COS_FUZZ_STATEFUL_SCENARIOS", "10"))

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        # NUL is refused everywhere before a view sees it (PostgreSQL cannot store one): see test_hostile_input.
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none", "allow-x00": False},
        # Replaced by the check below, which knows the refusals no schema can foresee.
        "checks": {"enabled": True, "positive_data_acceptance": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)

FIGURES = {"cases": Counter(), "statuses": Counter(), "stateful steps": 0}
TOKEN = {"key": ""}

# A 400 for schema-valid data is right where a rule refuses it that depends on the rows already there or on the day:
# these field codes, or any code of a service (order_invalid's product_not_found, end_date_too_far, ...). Any other
# 400 means the schema lacks a constraint the serializer has.
RULE_FIELD_CODES = {"does_not_exist", "unique", "date_too_far", "rule"}
UNREADABLE_CODES = {"invalid", "parse_error", "invalid_characters", "bad_request"}


def _codes(detail) -> list[str]:
    if isinstance(detail, dict):
        return [code for value in detail.values() for code in _codes(value)]
    if isinstance(detail, list):
        return [code for value in detail for code in _codes(value)]
    return [detail]


def refused_by_a_rule(response) -> bool:
    if response.status_code != 400:
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    if body.get("code") not in UNREADABLE_CODES:
        return True
    codes = _codes(body.get("codes") or {})
    return bool(codes) and set(codes) <= RULE_FIELD_CODES


def schema_valid_data_is_accepted(ctx, response, case):
    """schemathesis's positive_data_acceptance, but a refusal by a rule (see RULE_FIELD_CODES) is no failure."""
    if refused_by_a_rule(response):
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [schema_valid_data_is_accepted]


@schema.auth(refresh_interval=None)
class ProviderToken:
    """Every request carries the seeded provider's token (the ignored_auth check swaps in invalid ones)."""

    def get(self, case, context):
        return TOKEN["key"]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


@pytest.fixture(scope="module", autouse=True)
def _failures_before(request):
    """The session's count of failed tests when this module starts: the module's own failures are the rest."""
    FIGURES["failed before"] = request.session.testsfailed


@contextmanager
def as_a_server():
    """Requests go to the WSGI application, as a server runs it, inside the test's transaction: Django's own test
    client likewise keeps the connection open between requests instead of closing it after each (which on
    PostgreSQL would end the test's transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db, settings):
    """Provider A with rows of every kind (catalog, orders, subscriptions, services), whose token the requests carry,
    and provider B likewise: per API prefix, the ids a path may name (A's own and B's)."""
    # The ignored_auth check sends wrong keys on purpose; the lockout after API_BAD_KEY_LIMIT of them (see
    # test_rate_limits) would answer every later case with a 429 and test nothing more.
    settings.API_BAD_KEY_LIMIT = 0
    a, b = world(auto_accept=False), world()
    for w in (a, b):
        seed_webhook_endpoint(w)
        PromotionFactory(product=w.internet, marketplace=w.marketplace)
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = provider_client(w.provider).post(
                "/api/v1/orders/", order_body(w), format="json", HTTP_IDEMPOTENCY_KEY="seed"
            )
        assert response.status_code == 201, response.content
        with TestCase.captureOnCommitCallbacks(execute=True):
            body = order_body(w, address=AddressFactory(area=w.area, status="connected").pk)
            response = provider_client(w.provider).post(
                "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="seed-2"
            )
            assert response.status_code == 201, response.content
            if response.json()["status"] == "submitted":  # A decides by hand: accepted, it has subscriptions too
                services.order_accept(order_id=response.json()["id"])
        settle_last_month(w)  # an issued statement with a disputed line, a draft, a rate card
    user = UserFactory()
    membership_grant(user=user, organization=a.provider, role="api")
    TOKEN["key"] = api_token_issue(user=user, name="fuzz")[1]
    ids = {}
    for prefix, viewset, _ in api_urls.router.registry:
        rows = viewset.queryset.model.objects.filter(**{f"{viewset.provider_lookup}__in": [a.provider, b.provider]})
        ids[prefix] = sorted(rows.values_list("pk", flat=True))
        assert ids[prefix], f"nothing seeded behind /{prefix}/"
    with as_a_server():  # after the seeding: the test client it uses connects the signals again when done
        yield ids


@contextmanager
def rolled_back():
    """Each case (each sequence) starts from the seeded rows, whatever the one before it did: a failure replays the
    same way when Hypothesis shrinks it."""
    savepoint = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(savepoint)


def aim_at_rows(case, ids: dict) -> None:
    """Three of four generated ids become one of the seeded rows (A's or B's), so commands meet real records; the
    rest stay as drawn (mostly no such row). Ids of the wrong type stay as they are: they test the refusal."""
    value = (case.path_parameters or {}).get("id")
    prefix = case.path.removeprefix("/api/v1/").split("/")[0]
    pool = ids.get(prefix)
    if pool and isinstance(value, int) and not isinstance(value, bool) and value >= 0 and value % 4:
        case.path_parameters["id"] = pool[value % len(pool)]


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
def test_every_operation_answers_as_documented(case, seeded):
    # given
    aim_at_rows(case, seeded)
    FIGURES["cases"][case.operation.label] += 1

    # when / then: no 5xx, each status, content type, header and body as the schema says
    with rolled_back():
        response = case.call_and_validate(additional_checks=CHECKS)
    status = response.status_code
    FIGURES["statuses"]["429" if status == 429 else f"{status // 100}xx"] += 1


def test_sequences_along_the_links_answer_as_documented(seeded):
    # given: links between operations (a created product is read, changed and retired)
    class Sequences(schema.as_state_machine()):
        def setup(self):
            self.savepoint = transaction.savepoint()  # as rolled_back(), for the whole sequence

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            FIGURES["stateful steps"] += 1
            super().validate_response(response, case, additional_checks=CHECKS, **kwargs)

    # when / then
    Sequences.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
    )


@pytest.mark.django_db  # keeps it right after the tests above: pytest-django moves tests without a database last
def test_every_operation_was_fuzzed_and_none_failed(request, capsys):
    # given: the figures of the tests above (this one runs last in the module)
    operations = [operation.ok().label for operation in schema.get_all_operations()]
    selected = [item for item in request.session.items if item.module is request.module]
    if len(selected) < len(operations) + 2:
        pytest.skip("only some of the fuzz tests were selected")

    # when
    failures = request.session.testsfailed - FIGURES["failed before"]
    with capsys.disabled():
        print(
            f"\nschemathesis: {len(operations)} operations, {sum(FIGURES['cases'].values())} cases, "
            f"{FIGURES['stateful steps']} stateful steps, {failures} failures "
            f"(answers {dict(sorted(FIGURES['statuses'].items()))}; max_examples={MAX_EXAMPLES}, seed={SEED})"
        )

    # then
    assert set(FIGURES["cases"]) == set(operations), set(operations) - set(FIGURES["cases"])
    assert FIGURES["stateful steps"] > 0
    assert failures == 0, "see the failed fuzz tests above"
