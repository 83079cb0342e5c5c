"""On PostgreSQL the database refuses overlapping price versions, whatever path writes them."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from marketplace.models import Price
from tests.marketplace.factories import days_from_today, world

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_an_overlapping_version_written_past_the_service_is_refused_by_the_database():
    # given: the open-ended version from 30 days ago
    w = world()
    # when / then: a second version starting in 10 days, with the first still open-ended
    with pytest.raises(IntegrityError, match="price_versions_never_overlap"), transaction.atomic():
        Price.objects.create(
            product=w.internet,
            marketplace=w.marketplace,
            monthly_amount="449.00",
            currency="SEK",
            valid_from=days_from_today(10),
        )
    assert Price.objects.filter(product=w.internet).count() == 1


def test_adjacent_versions_are_fine():
    w = world()
    Price.objects.filter(pk=w.internet_price.pk).update(valid_to=days_from_today(10))
    Price.objects.create(
        product=w.internet,
        marketplace=w.marketplace,
        monthly_amount="449.00",
        currency="SEK",
        valid_from=days_from_today(10),
        valid_to=days_from_today(10) + timedelta(days=30),
    )
    assert Price.objects.filter(product=w.internet).count() == 2
