"""The migration that gave each refused order request one refusal: the problems recorded before it, of one request
(the same second, channel, customer, address and key), share one; another request's have their own."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from marketplace.models import ValidationFailure
from tests.cos.factories import AddressFactory

BEFORE = [("marketplace", "0006_participation_settlement_model")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_problems_of_one_refused_request_share_one_refusal():
    # given: three problems recorded before the migration: two of one request, one of a later request
    address = AddressFactory()
    old = _migrate(BEFORE)
    Failure = old.get_model("marketplace", "ValidationFailure")
    moment = timezone.now().replace(microsecond=100)
    for code, at in (("terms_not_accepted", moment), ("price_mismatch", moment), ("terms_not_accepted", None)):
        row = Failure.objects.create(code=code, message=code, channel="portal", address_id=address.pk)
        Failure.objects.filter(pk=row.pk).update(created_at=at or moment + timedelta(minutes=5))
    # when
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    # then
    refusals = list(ValidationFailure.objects.order_by("pk").values_list("refusal", flat=True))
    assert refusals[0] == refusals[1] != refusals[2]
