"""What a customer is told as the order goes through: received, accepted or refused, the installation booked and
moved, the fibre ready, the service on, the termination confirmed with its end date. In the customer's language,
once per cause, after the cause commits."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from cos.choices import AddressStatus, MessageChannel, MessageKind, MessageStatus
from cos.models import Message, ProviderNotification
from marketplace import services as marketplace_services
from marketplace.choices import CancellationReason, InstallSlot
from marketplace.models import Subscription
from tests.marketplace.factories import ContractTermFactory, world
from tests.workorders.factories import assign, installation_work_order, work_through
from workorders import services as field_services
from workorders.models import WorkOrder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]


def _told(customer) -> list[tuple[str, str]]:
    """(kind, status) of every e-mail the customer was sent, oldest first."""
    return list(
        Message.objects.filter(customer=customer, channel=MessageChannel.EMAIL)
        .order_by("pk")
        .values_list("kind", "status")
    )


def _mail_to(customer) -> list:
    return [message for message in mail.outbox if message.to == [customer.email]]


def _english(w):
    w.customer.language = "en"
    w.customer.save(update_fields=["language"])
    return w


def test_the_customer_hears_the_order_received_and_accepted_in_english(deliver):
    # given: Eva orders internet and TV for a morning installation
    w = _english(world())
    install_on = date.today() + timedelta(days=9)
    request = w.request(w.internet, w.tv, install_date=install_on, install_slot=InstallSlot.MORNING)
    # when: the provider accepts at once
    order, _ = deliver(marketplace_services.order_place, request=request)
    # then: two e-mails, sent, in the order things happened
    assert _told(w.customer) == [
        (MessageKind.ORDER_RECEIVED, MessageStatus.SENT),
        (MessageKind.ORDER_ACCEPTED, MessageStatus.SENT),
    ]
    received, accepted = _mail_to(w.customer)
    assert received.subject == f"We have your order for {w.address.label}"
    assert "- Fiber 1000\n- TV Bas\n" in received.body
    assert f"Your preferred installation day: {install_on:%A} {install_on.day} {install_on:%B %Y}, in the morning" in (
        received.body
    )
    assert accepted.subject == "Your order is accepted"
    assert "The fibre is already at your address" in accepted.body


def test_a_swedish_customer_is_told_in_swedish(deliver):
    # given: the customer factory's language is the default, Swedish
    w = world()
    assert w.customer.language == "sv"
    # when
    deliver(marketplace_services.order_place, request=w.request(install_date=date(2030, 3, 4)))
    # then: the subject and the date in Swedish
    received = _mail_to(w.customer)[0]
    assert received.subject == f"Vi har fått din beställning till {w.address.label}"
    assert "Önskad installationsdag: måndag 4 mars 2030" in received.body


def test_a_refused_order_says_why_and_nothing_says_accepted(deliver):
    # given: a provider that decides by hand
    w = _english(world(auto_accept=False))
    order, _ = deliver(marketplace_services.order_place, request=w.request())
    # when
    deliver(marketplace_services.order_reject, order_id=order.pk, reason="We do not serve this building yet.")
    # then
    assert _told(w.customer) == [
        (MessageKind.ORDER_RECEIVED, MessageStatus.SENT),
        (MessageKind.ORDER_REFUSED, MessageStatus.SENT),
    ]
    refused = _mail_to(w.customer)[-1]
    assert "The reason: We do not serve this building yet." in refused.body
    assert "Nothing has been charged" in refused.body


def test_the_installation_day_is_told_when_booked_and_again_when_moved_never_twice(deliver):
    # given: an accepted order's connection job
    w = _english(world())
    deliver(marketplace_services.order_place, request=w.request())
    (job,) = WorkOrder.objects.all()
    first_day = date(2030, 3, 5)
    # when: booked for a morning, moved to the afternoon two days later, then "moved" to the same visit again
    deliver(field_services.work_order_schedule, work_order_id=job.pk, on=first_day)
    later = first_day + timedelta(days=2)
    window = {"window_start": time(12, 0), "window_end": time(16, 0)}
    deliver(field_services.work_order_schedule, work_order_id=job.pk, on=later, **window)
    deliver(field_services.work_order_schedule, work_order_id=job.pk, on=later, **window)
    # then: one booking and one move
    kinds = [kind for kind, _ in _told(w.customer)]
    assert kinds[2:] == [MessageKind.INSTALLATION_BOOKED, MessageKind.INSTALLATION_CHANGED]
    booked, moved = _mail_to(w.customer)[2:]
    assert booked.subject == "Your installation: Tuesday 5 March"
    assert "on Tuesday 5 March 2030." in booked.body
    assert moved.subject == "Your installation is moved to Thursday 7 March"
    assert "on Thursday 7 March 2030 between 12:00 and 16:00." in moved.body
    # and the provider hears the booking and the move, with its order, once each (its webhooks carry them)
    told = ProviderNotification.objects.filter(provider=w.provider, topic__startswith="installation.").order_by("pk")
    assert [(n.topic, n.payload["on"], n.payload["window_start"]) for n in told] == [
        ("installation.booked", "2030-03-05", None),
        ("installation.rescheduled", "2030-03-07", "12:00:00"),
    ]
    assert all(n.payload["order_ids"] == list(job.orders.values_list("pk", flat=True)) for n in told)


def test_the_fibre_ready_and_the_service_on_are_told_once_each(crew, deliver):
    # given: an accepted order at an address being built, and its job done by the operator's technician
    w = _english(world(address_status=AddressStatus.IN_DEPLOYMENT, takes_preorders=True))
    w.internet.eligibility.address_statuses = [AddressStatus.IN_DEPLOYMENT, AddressStatus.CONNECTED]
    w.internet.eligibility.save(update_fields=["address_statuses"])
    job = installation_work_order(address=w.address)
    order, _ = deliver(marketplace_services.order_place, request=w.request())
    assign(job, user=crew.staff_tech)
    # when: the job is accepted (the address becomes connected: two causes of the same news)
    deliver(work_through, job, crew.staff_tech)
    # then
    job.refresh_from_db()
    assert job.status == "accepted"
    assert [kind for kind, _ in _told(w.customer)].count(MessageKind.FIBRE_READY) == 1
    ready = [m for m in _mail_to(w.customer) if m.subject.startswith("The fibre at")]
    assert ready[0].subject == f"The fibre at {w.address.label} is ready"
    # when: the network verifies the service
    subscription = Subscription.objects.get(order_line__order=order)
    deliver(marketplace_services.subscription_activate, subscription_id=subscription.pk, at=timezone.now())
    # then
    assert _told(w.customer)[-1] == (MessageKind.SERVICE_ACTIVE, MessageStatus.SENT)
    assert _mail_to(w.customer)[-1].subject == "Fiber 1000 is on"


def test_a_termination_is_confirmed_with_its_end_day_and_again_after_a_new_notice(deliver):
    # given: a live internet subscription without a minimum term
    w = _english(world())
    w.internet.term = ContractTermFactory(provider=w.provider, minimum_months=0, notice_days=30)
    w.internet.save(update_fields=["term"])
    order, _ = deliver(marketplace_services.order_place, request=w.request())
    subscription = Subscription.objects.get(order_line__order=order)
    deliver(marketplace_services.subscription_activate, subscription_id=subscription.pk, at=timezone.now())
    ends_on = date.today() + timedelta(days=60)
    # when: the customer gives notice, withdraws it, and gives it again for another day
    end = {"subscription_id": subscription.pk, "reason": CancellationReason.MOVED}
    deliver(marketplace_services.subscription_terminate, ends_on=ends_on, **end)
    deliver(marketplace_services.subscription_notice_withdraw, subscription_id=subscription.pk)
    deliver(marketplace_services.subscription_terminate, ends_on=ends_on + timedelta(days=5), **end)
    # then: each notice is confirmed with its end day
    confirmations = [m for m in _mail_to(w.customer) if m.subject.startswith("Your Fiber 1000 ends on")]
    assert [m.subject for m in confirmations] == [
        f"Your Fiber 1000 ends on {ends_on.day} {ends_on:%B %Y}",
        f"Your Fiber 1000 ends on {(ends_on + timedelta(days=5)).day} {(ends_on + timedelta(days=5)):%B %Y}",
    ]
    last_day = ends_on - timedelta(days=1)
    assert f"up to and including {last_day:%A} {last_day.day} {last_day:%B}." in confirmations[0].body


def test_an_sms_goes_to_a_customer_who_wants_one(deliver, settings):
    # given: a customer who asked for SMS too
    from cos import sms

    w = _english(world())
    w.customer.notify_by_sms = True
    w.customer.phone = "070-123 45 67"
    w.customer.save(update_fields=["notify_by_sms", "phone"])
    # when
    deliver(marketplace_services.order_place, request=w.request())
    # then: the e-mails and the short messages, to the number in international form
    assert [(m.kind, m.channel) for m in Message.objects.filter(customer=w.customer).order_by("pk")] == [
        (MessageKind.ORDER_RECEIVED, MessageChannel.EMAIL),
        (MessageKind.ORDER_RECEIVED, MessageChannel.SMS),
        (MessageKind.ORDER_ACCEPTED, MessageChannel.EMAIL),
        (MessageKind.ORDER_ACCEPTED, MessageChannel.SMS),
    ]
    assert [text.to for text in sms.outbox] == ["+46701234567", "+46701234567"]
    assert "we have your order for" in sms.outbox[0].body


def test_an_order_joining_a_job_already_booked_hears_its_day_and_nobody_else_again(deliver):
    # given: an installation job at an address being built, booked for a morning
    w = _english(world(address_status=AddressStatus.IN_DEPLOYMENT, takes_preorders=True))
    w.internet.eligibility.address_statuses = [AddressStatus.IN_DEPLOYMENT, AddressStatus.CONNECTED]
    w.internet.eligibility.save(update_fields=["address_statuses"])
    job = installation_work_order(address=w.address)
    window = {"window_start": time(8, 0), "window_end": time(12, 0)}
    deliver(field_services.work_order_schedule, work_order_id=job.pk, on=date(2030, 3, 5), **window)
    # when: a pre-order joins it
    deliver(marketplace_services.order_place, request=w.request())
    # then: its customer is told the visit booked, once
    assert list(job.orders.values_list("customer", flat=True)) == [w.customer.pk]
    booked = [m for m in _mail_to(w.customer) if m.subject.startswith("Your installation")]
    assert [m.subject for m in booked] == ["Your installation: Tuesday 5 March"]
    assert "between 08:00 and 12:00" in booked[0].body


def test_a_service_ended_at_once_is_told_once_without_an_offer_to_withdraw(deliver):
    # given: a live subscription without a minimum term
    w = _english(world())
    w.internet.term = ContractTermFactory(provider=w.provider, minimum_months=0, notice_days=0)
    w.internet.save(update_fields=["term"])
    order, _ = deliver(marketplace_services.order_place, request=w.request())
    subscription = Subscription.objects.get(order_line__order=order)
    deliver(marketplace_services.subscription_activate, subscription_id=subscription.pk, at=timezone.now())
    # when: it ends today
    deliver(
        marketplace_services.subscription_terminate,
        subscription_id=subscription.pk,
        reason=CancellationReason.MOVED,
        ends_on=timezone.localdate(),
    )
    # then: one message saying it has ended, without an offer to withdraw
    (ended,) = Message.objects.filter(customer=w.customer, kind=MessageKind.TERMINATION_CONFIRMED)
    assert ended.subject == "Your Fiber 1000 has ended"
    assert "has ended today" in ended.body
    assert "withdraw" not in ended.body


def test_a_visit_moved_away_and_back_is_told_each_time(deliver):
    # given: an accepted order's connection job, booked for the 5th
    w = _english(world())
    deliver(marketplace_services.order_place, request=w.request())
    (job,) = WorkOrder.objects.all()
    fifth, sixth = date(2030, 3, 5), date(2030, 3, 6)
    deliver(field_services.work_order_schedule, work_order_id=job.pk, on=fifth)
    # when: moved to the 6th, back to the 5th, and to the 6th again
    for day in (sixth, fifth, sixth):
        deliver(field_services.work_order_schedule, work_order_id=job.pk, on=day)
    # then: the customer heard every move, the last one being the 6th
    moves = [m.subject for m in _mail_to(w.customer) if m.subject.startswith("Your installation is moved")]
    assert moves == [
        "Your installation is moved to Wednesday 6 March",
        "Your installation is moved to Tuesday 5 March",
        "Your installation is moved to Wednesday 6 March",
    ]


def test_a_notice_given_again_for_the_same_day_is_confirmed_again_and_ending_it_early_is_told(deliver):
    # given: a live subscription under notice
    w = _english(world())
    w.internet.term = ContractTermFactory(provider=w.provider, minimum_months=0, notice_days=30)
    w.internet.save(update_fields=["term"])
    order, _ = deliver(marketplace_services.order_place, request=w.request())
    subscription = Subscription.objects.get(order_line__order=order)
    deliver(marketplace_services.subscription_activate, subscription_id=subscription.pk, at=timezone.now())
    end = {"subscription_id": subscription.pk, "reason": CancellationReason.MOVED}
    ends_on = date.today() + timedelta(days=60)
    deliver(marketplace_services.subscription_terminate, ends_on=ends_on, **end)
    # when: withdrawn and given again for the same day, then ended today with the notice waived
    deliver(marketplace_services.subscription_notice_withdraw, subscription_id=subscription.pk)
    deliver(marketplace_services.subscription_terminate, ends_on=ends_on, **end)
    deliver(marketplace_services.subscription_terminate, waive_notice=True, **end)
    # then: both notices confirmed, and the early end told
    subjects = [m.subject for m in _mail_to(w.customer) if m.subject.startswith("Your Fiber 1000")]
    assert subjects == [
        f"Your Fiber 1000 ends on {ends_on.day} {ends_on:%B %Y}",
        f"Your Fiber 1000 ends on {ends_on.day} {ends_on:%B %Y}",
        "Your Fiber 1000 has ended",
    ]
    (withdrawn,) = Message.objects.filter(customer=w.customer, kind=MessageKind.NOTICE_WITHDRAWN)
    assert withdrawn.subject == "Fiber 1000 runs on"
    assert "the notice is withdrawn, and it runs on as before" in withdrawn.body


def test_the_day_a_service_went_on_is_the_marketplaces_day(deliver):
    # given: a service verified at 00:30 in Stockholm on 3 December (23:30 UTC on the 2nd)
    w = _english(world())
    order, _ = deliver(marketplace_services.order_place, request=w.request())
    subscription = Subscription.objects.get(order_line__order=order)
    at = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    # when
    deliver(marketplace_services.subscription_activate, subscription_id=subscription.pk, at=at)
    # then
    assert w.marketplace.time_zone == "Europe/Stockholm"
    on = _mail_to(w.customer)[-1]
    assert "since 3 December 2026, 00:30." in on.body
