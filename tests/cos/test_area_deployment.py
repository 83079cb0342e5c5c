"""area_start_deployment moves exactly the right addresses, logs each, and publishes one event."""

import pytest
from django.contrib.contenttypes.models import ContentType

from cos import services
from cos.choices import AddressStatus, AreaStatus
from cos.errors import TransitionRefused
from cos.models import AddressObject, Event, TransitionLog
from tests.cos.factories import AddressFactory, AreaFactory, UserFactory

pytestmark = pytest.mark.django_db


def _statuses(area):
    return dict(AddressObject.objects.filter(area=area).values_list("external_id", "status"))


def test_start_deployment_moves_planned_and_surveyed_addresses_of_the_area_only():
    # given
    actor = UserFactory()
    area = AreaFactory(status=AreaStatus.SURVEYED)
    other_area = AreaFactory(status=AreaStatus.SURVEYED)
    planned = AddressFactory.create_batch(3, area=area, status=AddressStatus.PLANNED)
    surveyed = AddressFactory.create_batch(2, area=area, status=AddressStatus.SURVEYED)
    already = AddressFactory(area=area, status=AddressStatus.IN_DEPLOYMENT)
    connected = AddressFactory(area=area, status=AddressStatus.CONNECTED)
    elsewhere = AddressFactory.create_batch(2, area=other_area, status=AddressStatus.PLANNED)
    # when
    result = services.area_start_deployment(area_id=area.pk, actor=actor, reason="construction week 12")
    # then
    assert result.addresses_moved == 5
    assert result.area.status == AreaStatus.IN_DEPLOYMENT
    statuses = _statuses(area)
    assert {statuses[a.external_id] for a in planned + surveyed + [already]} == {AddressStatus.IN_DEPLOYMENT}
    assert statuses[connected.external_id] == AddressStatus.CONNECTED
    assert set(_statuses(other_area).values()) == {AddressStatus.PLANNED}
    assert {a.external_id for a in elsewhere} == set(_statuses(other_area))


def test_start_deployment_logs_each_moved_address_with_its_own_source_state():
    # given
    actor = UserFactory()
    area = AreaFactory(status=AreaStatus.SURVEYED)
    planned = AddressFactory(area=area, status=AddressStatus.PLANNED)
    surveyed = AddressFactory(area=area, status=AddressStatus.SURVEYED)
    connected = AddressFactory(area=area, status=AddressStatus.CONNECTED)
    # when
    services.area_start_deployment(area_id=area.pk, actor=actor, reason="go")
    # then
    logs = TransitionLog.objects.filter(content_type=ContentType.objects.get_for_model(AddressObject))
    by_address = {log.object_id: log for log in logs}
    assert set(by_address) == {planned.pk, surveyed.pk}
    assert by_address[planned.pk].source == AddressStatus.PLANNED
    assert by_address[surveyed.pk].source == AddressStatus.SURVEYED
    assert {(log.target, log.actor_id, log.reason) for log in logs} == {(AddressStatus.IN_DEPLOYMENT, actor.pk, "go")}
    assert connected.pk not in by_address


def test_start_deployment_publishes_one_event_with_the_count():
    # given
    area = AreaFactory(status=AreaStatus.SURVEYED)
    AddressFactory.create_batch(4, area=area)
    # when
    services.area_start_deployment(area_id=area.pk)
    # then
    (event,) = Event.objects.filter(name="area.in_deployment")
    assert event.payload["area_id"] == area.pk
    assert event.payload["address_count"] == 4
    assert "moved_at" in event.payload


def test_start_deployment_of_a_planned_area_is_refused_and_moves_nothing():
    # given
    area = AreaFactory(status=AreaStatus.PLANNED)
    AddressFactory.create_batch(3, area=area)
    # when
    with pytest.raises(TransitionRefused):
        services.area_start_deployment(area_id=area.pk)
    # then
    area.refresh_from_db()
    assert area.status == AreaStatus.PLANNED
    assert set(_statuses(area).values()) == {AddressStatus.PLANNED}
    assert not Event.objects.exists()
    assert not TransitionLog.objects.exists()


def test_start_deployment_query_count_does_not_grow_with_addresses(django_assert_max_num_queries):
    # given
    small, large = AreaFactory(status=AreaStatus.SURVEYED), AreaFactory(status=AreaStatus.SURVEYED)
    AddressFactory.create_batch(2, area=small)
    AddressFactory.create_batch(200, area=large)
    services.area_start_deployment(area_id=small.pk)
    # when / then
    with django_assert_max_num_queries(12):
        result = services.area_start_deployment(area_id=large.pk)
    assert result.addresses_moved == 200
