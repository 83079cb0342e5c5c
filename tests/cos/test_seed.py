"""seed_demo builds the demo world and is idempotent."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import F

from cos.choices import AddressStatus, AreaStatus, OrganizationKind, Role
from cos.models import OLT, ONT, AddressObject, AddressStreet, Area, Customer, Membership, Organization, PonPort
from cos.selectors import address_search

pytestmark = pytest.mark.django_db

MODELS = [Organization, Membership, Customer, Area, AddressObject, AddressStreet, OLT, PonPort, ONT, get_user_model()]


def _counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def test_seed_builds_the_demo_world(capsys):
    # when
    call_command("seed_demo", addresses=80)
    # then
    kinds = list(Organization.objects.values_list("kind", flat=True))
    assert kinds.count(OrganizationKind.NETWORK_OPERATOR) == 1
    assert kinds.count(OrganizationKind.SERVICE_PROVIDER) == 3
    assert kinds.count(OrganizationKind.CONTRACTOR) == 1
    assert set(Membership.objects.values_list("role", flat=True)) == set(Role.values)
    assert AddressObject.objects.count() == 80
    assert Area.objects.count() == 2
    assert set(Area.objects.values_list("status", flat=True)) == {AreaStatus.SURVEYED, AreaStatus.IN_DEPLOYMENT}
    deploying = Area.objects.get(status=AreaStatus.IN_DEPLOYMENT)
    statuses = list(deploying.addresses.values_list("status", flat=True))
    assert set(statuses) == {AddressStatus.IN_DEPLOYMENT, AddressStatus.CONNECTED}
    assert statuses.count(AddressStatus.CONNECTED) == 24  # the first phase is built
    assert set(OLT.objects.values_list("vendor", flat=True)) == {"adtran", "nokia", "calix"}
    assert ONT.objects.filter(address__isnull=True).count() == ONT.objects.count() > 0
    # every address's fiber reaches a port of an OLT of its own area
    assert not AddressObject.objects.filter(serving_pon_port__isnull=True).exists()
    assert not AddressObject.objects.exclude(serving_pon_port__olt__area=F("area")).exists()
    out = capsys.readouterr().out
    for username in ("admin", "ops", "finance", "tech", "fieldmanager", "contractor-tech", "ljusnet-api", "anna"):
        assert username in out
    assert get_user_model().objects.get(username="ops").check_password("demo1234")
    assert address_search(query="Storgatan")


def test_seed_twice_changes_nothing():
    # given
    call_command("seed_demo", addresses=40)
    first = _counts()
    # when
    call_command("seed_demo", addresses=40)
    # then
    assert _counts() == first


def test_seed_with_more_addresses_adds_only_the_missing_ones():
    call_command("seed_demo", addresses=20)
    call_command("seed_demo", addresses=30)
    assert AddressObject.objects.count() == 30
    assert AddressObject.objects.values("external_id").distinct().count() == 30


def test_seed_refuses_a_bad_address_count():
    with pytest.raises(CommandError, match="at least 2"):
        call_command("seed_demo", addresses=0)
