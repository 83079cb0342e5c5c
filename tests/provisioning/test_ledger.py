"""The service-period ledger: each verified network outcome opens and closes periods in the same transaction;
rows are append-only (closed once, never changed or deleted); periods of one ONT service never overlap; the
existing history is rebuilt from the recorded events."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from cos import events
from marketplace import services as marketplace_services
from provisioning.choices import PeriodCause, ServiceStatus
from provisioning.models import ServicePeriod
from provisioning.requests import service_modify
from tests.marketplace.factories import PriceFactory, ProductFactory
from tests.provisioning.conftest import fault, request_provisioning

pytestmark = pytest.mark.django_db


def _live(ordered, capture, vendor="adtran"):
    w, ont, service = ordered(vendor)
    request_provisioning(w, capture)
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    return w, ont, service


def test_a_verified_activation_opens_a_period_with_what_the_device_carries(ordered, django_capture_on_commit_callbacks):
    # when
    w, ont, service = _live(ordered, django_capture_on_commit_callbacks, vendor="calix")
    # then
    (period,) = ServicePeriod.objects.all()
    assert (period.service, period.subscription_id, period.provider, period.address, period.ont) == (
        service,
        service.subscription_id,
        w.provider,
        w.address,
        ont,
    )
    assert (period.profile, period.download_mbps, period.upload_mbps, period.c_vlan) == (
        service.service_profile,
        service.download_mbps,
        service.upload_mbps,
        service.c_vlan,
    )
    assert (period.started_at, period.ended_at, period.cause) == (service.activated_at, None, PeriodCause.ACTIVATE)
    assert period.network_service_id == service.network_service_id == f"cos-{service.pk}"
    assert period.job.service == service


def test_a_failed_activation_opens_no_period(ordered, simulator, settings, django_capture_on_commit_callbacks):
    settings.PROVISIONING_MAX_ATTEMPTS = 1
    w, ont, service = ordered()
    fault(simulator, kind="reject")
    request_provisioning(w, django_capture_on_commit_callbacks)
    assert not ServicePeriod.objects.exists()


def test_each_verified_change_closes_a_period_and_opens_the_next_at_the_same_instant(
    ordered, django_capture_on_commit_callbacks
):
    # given: a live service
    w, ont, service = _live(ordered, django_capture_on_commit_callbacks)
    faster = ProductFactory(
        provider=w.provider, name="2000", download_mbps=2000, upload_mbps=2000, service_profile="HSI_2000"
    )
    PriceFactory(product=faster, marketplace=w.marketplace, monthly_amount=Decimal("599.00"))
    # when: upgraded, suspended, resumed, terminated
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_services.subscription_change_request(subscription_id=service.subscription_id, product_id=faster.pk)
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_services.subscription_suspend(subscription_id=service.subscription_id, reason="unpaid")
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_services.subscription_resume(subscription_id=service.subscription_id, reason="paid")
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_services.subscription_terminate(
            subscription_id=service.subscription_id, reason="moved", waive_notice=True
        )
    # then: five periods chained without gap or overlap, each with what the device carried
    periods = list(ServicePeriod.objects.filter(service=service).order_by("started_at", "pk"))
    assert [(p.cause, p.end_cause) for p in periods] == [
        (PeriodCause.ACTIVATE, PeriodCause.MODIFY),
        (PeriodCause.MODIFY, PeriodCause.SUSPEND),
        (PeriodCause.SUSPEND, PeriodCause.RESUME),
        (PeriodCause.RESUME, PeriodCause.DEACTIVATE),
    ]
    assert [(p.profile, p.download_mbps) for p in periods] == [
        (w.internet.service_profile, 1000),
        ("HSI_2000", 2000),
        ("suspended", 1),
        ("HSI_2000", 2000),
    ]
    for earlier, later in zip(periods, periods[1:], strict=False):
        assert earlier.ended_at == later.started_at
    service.refresh_from_db()
    assert periods[-1].ended_at == service.deactivated_at


def test_a_period_is_never_changed_or_deleted(ordered, django_capture_on_commit_callbacks):
    # given: a closed period and an open one
    w, ont, service = _live(ordered, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        service_modify(service_id=service.pk, profile="HSI_250_250", download_mbps=250, upload_mbps=250)
    closed, running = ServicePeriod.objects.order_by("started_at", "pk")
    # when / then: through the model
    closed.profile = "forged"
    with pytest.raises(TypeError):
        closed.save()
    with pytest.raises(TypeError):
        running.delete()
    with pytest.raises(TypeError):
        ServicePeriod.objects.all().delete()
    # when / then: in SQL the database refuses (a closed period's end, any other column)
    for row, change in ((closed, {"ended_at": timezone.now()}), (running, {"profile": "forged"})):
        with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
            ServicePeriod.objects.filter(pk=row.pk).update(**change)
    closed.refresh_from_db()
    running.refresh_from_db()
    assert (closed.profile, running.profile) == (w.internet.service_profile, "HSI_250_250")


@pytest.mark.postgres
def test_periods_of_one_ont_service_never_overlap(ordered, django_capture_on_commit_callbacks):
    # given: the running period of the ONT's service
    w, ont, service = _live(ordered, django_capture_on_commit_callbacks)
    (running,) = ServicePeriod.objects.all()
    # when: a period that overlaps it is written for the same ONT service id (whichever provider)
    with pytest.raises(IntegrityError), transaction.atomic():
        ServicePeriod.objects.create(
            service=service,
            subscription_id=service.subscription_id,
            provider=w.provider,
            address=w.address,
            ont=ont,
            network_service_id=running.network_service_id,
            profile="X",
            started_at=running.started_at - timedelta(days=1),
            ended_at=running.started_at + timedelta(hours=1),
            cause=PeriodCause.ACTIVATE,
        )
    # then
    assert ServicePeriod.objects.count() == 1


def test_the_history_is_rebuilt_from_the_recorded_events(ordered, django_capture_on_commit_callbacks):
    """The data migration builds the ledger of services live before it existed, from their events."""
    migration = __import__("provisioning.migrations.0004_ledger_backfill_and_guards", fromlist=["backfill"])
    # given: a live, modified, then deactivated service whose periods are not in the ledger
    w, ont, service = _live(ordered, django_capture_on_commit_callbacks)
    activated = service.activated_at
    ids = {"service_id": service.pk, "subscription_id": service.subscription_id, "provider_id": w.provider.pk}
    events.publish("service.modified", modified_at=activated + timedelta(days=3), profile="suspended", **ids)
    events.publish(
        "service.modified", modified_at=activated + timedelta(days=5), profile=service.service_profile, **ids
    )
    events.publish("service.deactivated", deactivated_at=activated + timedelta(days=9), **ids)
    with connection.cursor() as cursor:  # as before the ledger existed (the guards allow no delete on PostgreSQL)
        table = ServicePeriod._meta.db_table
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"DELETE FROM {table}")
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    # when
    migration.backfill(apps, None)
    # then
    periods = list(ServicePeriod.objects.filter(service=service).order_by("started_at"))
    # (event times are kept to the millisecond)
    assert [
        (p.cause, p.profile, round((p.started_at - activated).total_seconds() / 86400), p.end_cause) for p in periods
    ] == [
        (PeriodCause.ACTIVATE, w.internet.service_profile, 0, PeriodCause.SUSPEND),
        (PeriodCause.SUSPEND, "suspended", 3, PeriodCause.RESUME),
        (PeriodCause.RESUME, service.service_profile, 5, PeriodCause.DEACTIVATE),
    ]
    assert abs(periods[-1].ended_at - (activated + timedelta(days=9))) < timedelta(milliseconds=1)
