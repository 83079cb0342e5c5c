"""Contract synchronization: each kind of difference between what is sold and what the network delivers."""

import pytest
from django.core.exceptions import ValidationError

from cos.models import TransitionLog
from marketplace.models import Subscription
from provisioning.adapters import adapter_for
from provisioning.choices import ExceptionKind, ExceptionStatus, ServiceStatus
from provisioning.jobs import service_spec
from provisioning.models import ContractException
from provisioning.sync import contract_exception_resolve, contract_sync
from tests.cos.factories import AddressFactory
from tests.provisioning.conftest import request_provisioning

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(ordered, django_capture_on_commit_callbacks):
    """An active, billed service on a simulated Adtran ONT."""
    w, ont, service = ordered("adtran")
    request_provisioning(w, django_capture_on_commit_callbacks)
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    return w, ont, service


def _open():
    return sorted(ContractException.objects.filter(status="open").values_list("kind", "severity"))


def test_a_service_matching_its_contract_raises_nothing(live):
    result = contract_sync()
    assert result.onts_read == 1
    assert _open() == []


def test_billed_but_inactive_is_found_once_however_often_the_sync_runs(live):
    # given: the service disappears from the network
    w, ont, service = live
    adapter_for("adtran").deactivate(service_spec(service))
    # when
    contract_sync()
    contract_sync()
    # then
    assert _open() == [(ExceptionKind.BILLED_INACTIVE, "red")]


def test_active_but_unbilled_is_found(live):
    w, ont, service = live
    Subscription.objects.filter(pk=service.subscription_id).update(status="cancelled")
    contract_sync()
    assert _open() == [(ExceptionKind.ACTIVE_UNBILLED, "red")]


def test_a_profile_mismatch_is_found(live):
    from dataclasses import replace

    w, ont, service = live
    adapter_for("adtran").modify(replace(service_spec(service), download_mbps=100, upload_mbps=100))
    contract_sync()
    assert _open() == [(ExceptionKind.PROFILE_MISMATCH, "amber")]
    assert "100/100" in ContractException.objects.get().detail


def test_an_unbound_device_is_found_and_blocks_billing(live):
    w, ont, service = live
    ont.address = AddressFactory(area=w.area, status="connected")
    ont.save()
    contract_sync()
    assert (ExceptionKind.DEVICE_UNBOUND, "red") in _open()
    service.refresh_from_db()
    assert service.billing_blocked


def test_a_service_without_an_order_is_found(live):
    from dataclasses import replace

    w, ont, service = live
    adapter_for("adtran").activate(replace(service_spec(service), service_id="rogue-1"))
    contract_sync()
    assert _open() == [(ExceptionKind.ACTIVATION_WITHOUT_ORDER, "amber")]


def test_an_exception_is_resolved_with_a_reason_code_and_audited(live, django_user_model):
    # given
    w, ont, service = live
    adapter_for("adtran").deactivate(service_spec(service))
    contract_sync()
    exception = ContractException.objects.get()
    operator = django_user_model.objects.create_user("ops-x")
    # when: a bad code is refused, a good one resolves
    with pytest.raises(ValidationError):
        contract_exception_resolve(exception_id=exception.pk, code="because", actor=operator)
    contract_exception_resolve(exception_id=exception.pk, code="network_corrected", actor=operator, note="re-pushed")
    # then
    exception.refresh_from_db()
    assert (exception.status, exception.resolution_code) == (ExceptionStatus.RESOLVED, "network_corrected")
    log = TransitionLog.objects.get(object_id=exception.pk, content_type__model="contractexception")
    assert (log.actor, log.reason) == (operator, "re-pushed")
    # and: if the problem is still there, the next sync opens a new exception
    contract_sync()
    assert _open() == [(ExceptionKind.BILLED_INACTIVE, "red")]


def test_an_unreachable_element_manager_is_reported_not_guessed(live, simulator):
    from tests.provisioning.conftest import fault

    fault(simulator, kind="error_5xx")
    result = contract_sync()
    assert result.unreachable
    assert _open() == []
