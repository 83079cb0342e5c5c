"""Field work fixtures: the realistic templates, the people in the field, and eager event delivery."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from cos import events
from cos.choices import HandlerRunStatus, OrganizationKind
from cos.models import HandlerRun
from cos.services import membership_grant
from tests.cos.factories import OrganizationFactory, UserFactory
from workorders import demo_data
from workorders.models import WorkOrderTemplate


@pytest.fixture
def templates(db) -> dict[str, WorkOrderTemplate]:
    """The four demo templates: sfu-drop, mdu-unit, business (installation) and connection."""
    demo_data.seed()
    return {template.code: template for template in WorkOrderTemplate.objects.all()}


@dataclass
class Crew:
    operator: object
    contractor: object
    rival: object
    ops: object  # operations at the network operator (operator staff)
    staff_tech: object  # the operator's own technician
    manager: object  # the contractor's field manager
    contractor_tech: object
    rival_tech: object  # a technician of another contractor


@pytest.fixture
def crew(db) -> Crew:
    operator = OrganizationFactory(name="Stadsnät", kind=OrganizationKind.NETWORK_OPERATOR)
    contractor = OrganizationFactory(name="Gravteam", kind=OrganizationKind.CONTRACTOR)
    rival = OrganizationFactory(name="Kabelbolaget", kind=OrganizationKind.CONTRACTOR)
    people = {}
    for username, organization, role in [
        ("olle-ops", operator, "operations"),
        ("tina-tech", operator, "technician"),
        ("frida-manager", contractor, "field_manager"),
        ("carl-contractor", contractor, "technician"),
        ("rita-rival", rival, "technician"),
    ]:
        people[username] = UserFactory(username=username)
        membership_grant(user=people[username], organization=organization, role=role)
    return Crew(operator, contractor, rival, *people.values())


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Run an action and deliver every event it publishes, and the events its handlers publish, until none is left.

    Fails loudly when a handler failed (the outbox only records failures).
    """

    def run(action, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            result = action(*args, **kwargs)
        for _ in range(20):
            with django_capture_on_commit_callbacks(execute=True):
                if events.events_sweep(now=timezone.now() + timedelta(days=1)) == 0:
                    break
        failed = list(
            HandlerRun.objects.exclude(status=HandlerRunStatus.SUCCEEDED).values_list("handler", "last_error")
        )
        assert not failed, failed
        return result

    return run
