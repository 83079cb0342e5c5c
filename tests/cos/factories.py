import factory
from django.contrib.auth import get_user_model

from cos.choices import BuildingType, CustomerType, OrganizationKind, Vendor
from cos.models import OLT, ONT, AddressObject, Area, Customer, Organization, PonPort


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password("pw-123456")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    kind = OrganizationKind.SERVICE_PROVIDER


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    customer_type = CustomerType.RESIDENTIAL
    first_name = "Eva"
    last_name = factory.Sequence(lambda n: f"Svensson{n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.test")
    billing_street = "Storgatan 1"
    billing_postal_code = "72110"
    billing_city = "Västerås"


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Area

    name = factory.Sequence(lambda n: f"Area {n}")
    code = factory.Sequence(lambda n: f"A{n}")


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AddressObject

    external_id = factory.Sequence(lambda n: f"GIS-{n:07d}")
    street = "Storgatan"
    house_number = factory.Sequence(lambda n: n + 1)
    postal_code = "72110"
    city = "Västerås"
    building_type = BuildingType.SINGLE_FAMILY
    area = factory.SubFactory(AreaFactory)


class OLTFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OLT

    name = factory.Sequence(lambda n: f"OLT-{n}")
    vendor = Vendor.ADTRAN
    model = "SDX 6320-16"
    management_host = "olt.example.test"


class PonPortFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PonPort

    olt = factory.SubFactory(OLTFactory)
    slot = 1
    port = factory.Sequence(lambda n: n % 16 + 1)


class ONTFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ONT

    serial = factory.Sequence(lambda n: f"ADTN{n:08X}")
    vendor = Vendor.ADTRAN
    model = "622v"
    pon_port = factory.SubFactory(PonPortFactory)
