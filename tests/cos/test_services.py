"""Core services: creating addresses, granting roles; bad input is a validation error."""

import pytest
from django.core.exceptions import ValidationError

from cos import services
from cos.choices import Role
from cos.models import AddressObject, AddressStreet, Customer
from tests.cos.factories import AreaFactory, CustomerFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _fields(area, **over):
    return {
        "external_id": "GIS-1",
        "street": "Storgatan",
        "house_number": 4,
        "postal_code": "721 10",
        "city": "Västerås",
        "building_type": "single_family",
        "area": area,
        **over,
    }


def test_address_create_normalizes_postal_code_and_indexes_the_street():
    address = services.address_create(**_fields(AreaFactory()))
    assert address.postal_code == "72110"
    assert AddressStreet.objects.filter(street="Storgatan", city="Västerås", search_text="storgatan vasteras").exists()


def test_duplicate_external_id_is_a_validation_error_and_writes_nothing():
    area = AreaFactory()
    services.address_create(**_fields(area))
    with pytest.raises(ValidationError) as error:
        services.address_create(**_fields(area, house_number=6))
    assert "external_id" in error.value.message_dict
    assert AddressObject.objects.count() == 1


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"street": ""}, "street"),
        ({"building_type": "castle"}, "building_type"),
        ({"latitude": 123}, "latitude"),
        ({"units": 0}, "units"),
    ],
)
def test_bad_address_fields_are_validation_errors(override, field):
    with pytest.raises(ValidationError) as error:
        services.address_create(**_fields(AreaFactory(), **override))
    assert field in error.value.message_dict
    assert not AddressObject.objects.exists()


def test_membership_grant_puts_the_person_in_the_role_group():
    user = UserFactory()
    operator = OrganizationFactory(kind="network_operator")
    services.membership_grant(user=user, organization=operator, role=Role.FINANCE)
    user.refresh_from_db()
    assert user.is_staff
    assert user.has_perm("cos.view_area")
    assert not user.has_perm("cos.change_area")


def test_membership_grant_refuses_an_unknown_role():
    with pytest.raises(ValidationError):
        services.membership_grant(user=UserFactory(), organization=OrganizationFactory(), role="wizard")


def test_customer_validation_by_type():
    business = CustomerFactory.build(customer_type="business", company_name="")
    with pytest.raises(ValidationError) as error:
        business.full_clean()
    assert "company_name" in error.value.message_dict
    assert not Customer.objects.exists()


def test_ont_serial_and_vendor_are_validated():
    from cos.models import ONT

    ont = ONT(serial="bad-serial", vendor="huawei", model="x")
    with pytest.raises(ValidationError) as error:
        ont.full_clean()
    assert {"serial", "vendor"} <= set(error.value.message_dict)
