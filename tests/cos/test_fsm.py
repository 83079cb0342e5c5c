"""Every core state machine: the allowed transitions, the forbidden ones, and the transition log."""

import pytest
from django.contrib.contenttypes.models import ContentType

from cos import services
from cos.choices import AddressStatus, AreaStatus
from cos.errors import TransitionRefused
from cos.models import AddressObject, Area, TransitionLog
from tests.cos.factories import AddressFactory, AreaFactory, UserFactory

pytestmark = pytest.mark.django_db


def _log_of(obj):
    return list(
        TransitionLog.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk).order_by(
            "id"
        )
    )


AREA_ALLOWED = [
    (AreaStatus.PLANNED, services.area_mark_surveyed, AreaStatus.SURVEYED),
    (AreaStatus.SURVEYED, services.area_start_deployment, AreaStatus.IN_DEPLOYMENT),
    (AreaStatus.IN_DEPLOYMENT, services.area_mark_built, AreaStatus.BUILT),
]


@pytest.mark.parametrize(("source", "service", "target"), AREA_ALLOWED)
def test_area_allowed_transition_changes_status_and_is_logged(source, service, target):
    # given
    actor = UserFactory()
    area = AreaFactory(status=source)
    # when
    service(area_id=area.pk, actor=actor, reason="survey done")
    # then
    area.refresh_from_db()
    assert area.status == target
    (entry,) = _log_of(area)
    assert (entry.source, entry.target, entry.actor, entry.reason) == (source, target, actor, "survey done")


AREA_FORBIDDEN = [
    (state, service) for state in AreaStatus.values for source, service, _ in AREA_ALLOWED if state != source
]


@pytest.mark.parametrize(("state", "service"), AREA_FORBIDDEN)
def test_area_forbidden_transition_is_refused_and_changes_nothing(state, service):
    # given
    area = AreaFactory(status=state)
    # when
    with pytest.raises(TransitionRefused) as refused:
        service(area_id=area.pk, actor=None)
    # then
    area.refresh_from_db()
    assert area.status == state
    assert _log_of(area) == []
    assert refused.value.code == "transition_not_allowed"
    assert str(area) in refused.value.message


ADDRESS_ALLOWED = [
    (AddressStatus.PLANNED, services.address_mark_surveyed, AddressStatus.SURVEYED),
    (AddressStatus.PLANNED, services.address_start_deployment, AddressStatus.IN_DEPLOYMENT),
    (AddressStatus.SURVEYED, services.address_start_deployment, AddressStatus.IN_DEPLOYMENT),
    (AddressStatus.IN_DEPLOYMENT, services.address_mark_connected, AddressStatus.CONNECTED),
]


@pytest.mark.parametrize(("source", "service", "target"), ADDRESS_ALLOWED)
def test_address_allowed_transition_changes_status_and_is_logged(source, service, target):
    # given
    actor = UserFactory()
    address = AddressFactory(status=source)
    # when
    service(address_id=address.pk, actor=actor)
    # then
    address.refresh_from_db()
    assert address.status == target
    (entry,) = _log_of(address)
    assert (entry.source, entry.target, entry.actor) == (source, target, actor)


ADDRESS_FORBIDDEN = [
    (AddressStatus.SURVEYED, services.address_mark_surveyed),
    (AddressStatus.IN_DEPLOYMENT, services.address_mark_surveyed),
    (AddressStatus.CONNECTED, services.address_mark_surveyed),
    (AddressStatus.IN_DEPLOYMENT, services.address_start_deployment),
    (AddressStatus.CONNECTED, services.address_start_deployment),
    (AddressStatus.PLANNED, services.address_mark_connected),
    (AddressStatus.SURVEYED, services.address_mark_connected),
    (AddressStatus.CONNECTED, services.address_mark_connected),
]


@pytest.mark.parametrize(("state", "service"), ADDRESS_FORBIDDEN)
def test_address_forbidden_transition_is_refused_and_changes_nothing(state, service):
    # given
    address = AddressFactory(status=state)
    # when
    with pytest.raises(TransitionRefused):
        service(address_id=address.pk, actor=None)
    # then
    address.refresh_from_db()
    assert address.status == state
    assert _log_of(address) == []


def test_status_cannot_be_assigned_directly():
    # given
    area = AreaFactory()
    # when / then
    with pytest.raises(AttributeError):
        area.status = AreaStatus.BUILT
    assert Area.objects.get(pk=area.pk).status == AreaStatus.PLANNED


def test_stale_copy_cannot_overwrite_a_newer_status():
    # given: two copies of one address; one moves on
    address = AddressFactory(status=AddressStatus.PLANNED)
    stale = AddressObject.objects.get(pk=address.pk)
    services.address_mark_surveyed(address_id=address.pk)
    # when: the stale copy transitions and saves, in its own transaction
    from django.db import transaction
    from django_fsm import ConcurrentTransition

    # then: the optimistic state check refuses the save and the transaction rolls back
    def save_stale_copy():
        with transaction.atomic():
            stale.start_deployment()
            stale.save()

    with pytest.raises(ConcurrentTransition):
        save_stale_copy()
    assert AddressObject.objects.get(pk=address.pk).status == AddressStatus.SURVEYED
