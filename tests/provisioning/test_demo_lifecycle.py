"""The demo world's lives after activation, made by seed_demo through the real services and the simulator: one
completed switch and one termination with its credit note; loading it again changes nothing."""

import pytest
from django.core.management import call_command

from billing.choices import InvoiceKind
from billing.models import Invoice
from marketplace.choices import SubscriptionStatus, SwitchStatus
from marketplace.models import Subscription, Switch
from provisioning.models import ServicePeriod
from tests.provisioning.conftest import running_simulator, simulator  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_has_a_completed_switch_and_a_termination_with_its_credit_note(simulator, capsys):  # noqa: F811
    # given: the simulator knows every ONT plugged in, as make run starts it (--auto-discover)
    simulator.state.auto_discover = True
    # when
    call_command("seed_demo", addresses=80)
    # then: Erik's internet moved from Svea Connect to Ljusnet in one verified hand-over
    (switch,) = Switch.objects.all()
    assert switch.status == SwitchStatus.COMPLETED
    assert (switch.from_subscription.provider.slug, switch.order.provider.slug) == ("sveaconnect", "ljusnet")
    assert switch.from_subscription.customer.user.username == "erik"
    closed = ServicePeriod.objects.get(subscription=switch.from_subscription)
    opened = ServicePeriod.objects.get(subscription=switch.to_subscription)
    assert closed.ended_at == opened.started_at == switch.completed_at
    # Maria's service ended and its unused days came back on a credit note; Johan's is live
    maria = Subscription.objects.get(customer__user__username="maria")
    assert maria.status == SubscriptionStatus.TERMINATED
    assert Invoice.objects.filter(account__customer=maria.customer, kind=InvoiceKind.CREDIT_NOTE).exists()
    assert Subscription.objects.get(customer__user__username="johan").status == SubscriptionStatus.ACTIVE
    assert "erik switched from Svea Connect to Ljusnet" in capsys.readouterr().out
    # and the month's draft settlement statements charge the providers whose services were live this month
    from wholesale.models import Statement

    drafts = Statement.objects.filter(status="draft")
    assert set(drafts.values_list("provider__slug", flat=True)) == {"ljusnet", "sveaconnect"}
    # when: loaded again
    counts = (Subscription.objects.count(), Invoice.objects.count(), ServicePeriod.objects.count())
    call_command("seed_demo", addresses=80)
    # then
    assert (Subscription.objects.count(), Invoice.objects.count(), ServicePeriod.objects.count()) == counts
