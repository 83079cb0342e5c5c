"""Admin: every list page loads with a bounded query count; transitions run as actions through services."""

from datetime import UTC

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.urls import reverse

from cos.choices import AreaStatus
from cos.models import OLT, AddressObject, Area, HandlerRun, TransitionLog

pytestmark = pytest.mark.django_db

MAX_QUERIES_PER_PAGE = 20


@pytest.fixture
def demo_world():
    call_command("seed_demo", addresses=120)


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456")
    client.force_login(user)
    client.user = user
    return client


def _changelists():
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") for model in admin.site._registry
    ]


@pytest.mark.parametrize("url", _changelists())
def test_every_admin_list_page_loads_with_a_bounded_query_count(
    url, demo_world, staff_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(MAX_QUERIES_PER_PAGE):
        response = staff_client.get(url)
    assert response.status_code == 200


def test_address_list_search_uses_the_ranked_search(demo_world, staff_client):
    url = reverse("admin:cos_addressobject_changelist")
    response = staff_client.get(url, {"q": "Storgatan 4"})
    assert response.status_code == 200
    assert "Storgatan" in response.content.decode()


def test_area_page_shows_its_transition_history(demo_world, staff_client):
    area = Area.objects.get(code="SOL")
    response = staff_client.get(reverse("admin:cos_area_change", args=[area.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "transition history" in body.lower()
    assert "in_deployment" in body


def test_start_deployment_action_runs_the_service(demo_world, staff_client):
    # given
    area = Area.objects.get(code="EKB")
    assert area.status == AreaStatus.SURVEYED
    # when
    response = staff_client.post(
        reverse("admin:cos_area_changelist"),
        {"action": "action_area_start_deployment", "_selected_action": [area.pk]},
        follow=True,
    )
    # then
    area.refresh_from_db()
    assert area.status == AreaStatus.IN_DEPLOYMENT
    assert set(area.addresses.values_list("status", flat=True)) == {"in_deployment"}
    assert "1 done" in response.content.decode()
    area_type = ContentType.objects.get_for_model(Area)
    log = TransitionLog.objects.get(content_type=area_type, object_id=area.pk, target="in_deployment")
    assert log.actor == staff_client.user


def test_illegal_transition_action_shows_an_error_and_changes_nothing(demo_world, staff_client):
    # given: an area that is surveyed cannot be marked built
    area = Area.objects.get(code="EKB")
    # when
    response = staff_client.post(
        reverse("admin:cos_area_changelist"),
        {"action": "action_area_mark_built", "_selected_action": [area.pk]},
        follow=True,
    )
    # then
    area.refresh_from_db()
    assert area.status == AreaStatus.SURVEYED
    assert "cannot mark built while it is Surveyed" in response.content.decode()


def test_duplicate_external_id_in_the_admin_is_a_form_error(demo_world, staff_client):
    existing = AddressObject.objects.first()
    count = AddressObject.objects.count()
    response = staff_client.post(
        reverse("admin:cos_addressobject_add"),
        {
            "external_id": existing.external_id,
            "street": "Nyvägen",
            "house_number": 1,
            "postal_code": "72110",
            "city": "Västerås",
            "country": "SE",
            "building_type": "single_family",
            "units": 1,
            "area": existing.area_id,
            "extra": "{}",
        },
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert AddressObject.objects.count() == count


def test_unknown_vendor_in_the_admin_is_a_form_error(staff_client):
    response = staff_client.post(
        reverse("admin:cos_olt_add"),
        {
            "name": "OLT-X",
            "vendor": "huawei",
            "management_host": "h",
            "model": "m",
            "pon_ports-TOTAL_FORMS": 0,
            "pon_ports-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not OLT.objects.exists()


def test_handler_run_retry_action(staff_client, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from cos.models import Event

    event = Event.objects.create(name="nothing.handles", payload={})
    run = HandlerRun.objects.create(event=event, handler="cos.views.home", next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False):
        staff_client.post(
            reverse("admin:cos_handlerrun_changelist"),
            {"action": "retry_now", "_selected_action": [run.pk]},
        )
    run.refresh_from_db()
    # a pending run cannot be requeued; the action reports it and changes nothing
    assert run.status == "pending"


def test_a_run_that_succeeded_after_a_retry_shows_no_next_try(staff_client):
    # given: a run that failed once (a next try at 09:30) and then succeeded
    from datetime import datetime

    from cos.models import Event

    event = Event.objects.create(name="nothing.handles", payload={})
    retry_at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    done = HandlerRun.objects.create(
        event=event, handler="marketplace.handlers.on_order_accepted", next_attempt_at=retry_at
    )
    HandlerRun.objects.filter(pk=done.pk).update(status="succeeded", attempts=2, finished_at=retry_at)
    waiting = HandlerRun.objects.create(event=event, handler="billing.handlers.on_paid", next_attempt_at=retry_at)
    HandlerRun.objects.filter(pk=waiting.pk).update(status="failed", attempts=1)
    # when
    page = staff_client.get(reverse("admin:cos_handlerrun_changelist")).content.decode()
    # then: only the failed run has a next try; handlers read as app and function
    rows = {
        row.split('class="field-handler_name">')[1].split("<")[0]: row
        for row in page.split("<tr")[1:]
        if "field-handler_name" in row
    }
    assert set(rows) == {"marketplace.on_order_accepted", "billing.on_paid"}
    assert '<td class="field-next_try">-</td>' in rows["marketplace.on_order_accepted"]
    assert '<td class="field-next_try">-</td>' not in rows["billing.on_paid"]
