"""Portal pages of a live subscription: end it (with its earliest end day shown before confirming), withdraw a
notice, change plan, and abort a switch to another provider. Each page calls one service; refusals are shown as
messages and change nothing."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import date_format
from django.views.decorators.http import require_POST

from cos.errors import ApplicationError
from marketplace import services
from marketplace.choices import SubscriptionStatus, SwitchStatus
from marketplace.forms import ChangePlanForm, TerminateForm
from marketplace.models import Subscription, Switch
from marketplace.selectors import (
    change_options,
    marketplace_today,
    next_period_start,
    open_changes_of,
    subscription_end_dates,
)


def _own_subscription(request, subscription_id: int) -> Subscription:
    return get_object_or_404(
        Subscription.objects.select_related("product", "provider", "address", "marketplace"),
        pk=subscription_id,
        customer__user=request.user,
    )


def _dependents(subscription: Subscription) -> list[Subscription]:
    return list(
        Subscription.objects.filter(
            address_id=subscription.address_id,
            customer_id=subscription.customer_id,
            provider_id=subscription.provider_id,
            product__requires_category=subscription.category,
            status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED],
        ).select_related("product")
    )


@login_required
def subscription_terminate(request, subscription_id: int):
    """End a subscription: the earliest end day (and any early-termination fee) first, then confirm."""
    subscription = _own_subscription(request, subscription_id)
    if subscription.status != SubscriptionStatus.ACTIVE:
        messages.info(request, f"{subscription.product.name} is {subscription.get_status_display().lower()}.")
        return redirect("portal")
    dates = subscription_end_dates(subscription, today=marketplace_today(subscription.marketplace))
    form = TerminateForm(request.POST or None, earliest=dates.earliest)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.subscription_terminate(
                subscription_id=subscription.pk,
                reason=data["reason"],
                note=data["note"],
                ends_on=data["ends_on"],
                actor=request.user,
            )
        except ApplicationError as refused:
            form.add_error("ends_on" if "end" in refused.message else None, refused.message)
        else:
            subscription.refresh_from_db()
            if subscription.status == SubscriptionStatus.TERMINATED:
                messages.success(request, f"{subscription.product.name} has ended today.")
            else:
                ends = date_format(subscription.ends_on, "j F Y")
                messages.success(request, f"Notice received: {subscription.product.name} ends on {ends}.")
            return redirect("portal")
    return render(
        request,
        "marketplace/subscription_terminate.html",
        {
            "subscription": subscription,
            "dates": dates,
            "fee_until": dates.minimum_end if dates.fee is not None else None,
            "dependents": _dependents(subscription),
            "form": form,
        },
    )


@login_required
@require_POST
def subscription_notice_withdraw(request, subscription_id: int):
    subscription = _own_subscription(request, subscription_id)
    try:
        services.subscription_notice_withdraw(subscription_id=subscription.pk, actor=request.user)
    except ApplicationError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"Your notice is withdrawn: {subscription.product.name} runs on.")
    return redirect("portal")


@login_required
def subscription_change(request, subscription_id: int):
    """Upgrade (at once) or downgrade (from the next billing period) within the same provider and category."""
    subscription = _own_subscription(request, subscription_id)
    if subscription.status != SubscriptionStatus.ACTIVE:
        messages.info(request, f"{subscription.product.name} is {subscription.get_status_display().lower()}.")
        return redirect("portal")
    options = sorted(change_options(subscription), key=lambda c: c.price.monthly_amount)
    pending = open_changes_of([subscription.pk]).get(subscription.pk)
    form = ChangePlanForm(request.POST or None, options=options)
    if request.method == "POST" and form.is_valid():
        try:
            change = services.subscription_change_request(
                subscription_id=subscription.pk, product_id=form.cleaned_data["product"], actor=request.user
            )
        except ApplicationError as refused:
            form.add_error(None, refused.message)
        else:
            if change.kind == "upgrade":
                messages.success(
                    request, f"{change.to_product.name} is being switched on: the new price applies from today."
                )
            else:
                messages.success(
                    request, f"{change.to_product.name} starts on {date_format(change.effective_on, 'j F Y')}."
                )
            return redirect("portal")
    today = marketplace_today(subscription.marketplace)
    rows = [
        {
            "candidate": c,
            "upgrade": c.price.monthly_amount >= subscription.monthly_amount,
            "difference": c.price.monthly_amount - subscription.monthly_amount,
        }
        for c in options
    ]
    return render(
        request,
        "marketplace/subscription_change.html",
        {
            "subscription": subscription,
            "rows": rows,
            "form": form,
            "pending": pending,
            "downgrade_from": next_period_start(subscription, today=today),
        },
    )


@login_required
def switch_abort(request, switch_id: int):
    """Abort a switch to another provider before its hand-over day: the new order is cancelled, the old
    subscription runs on."""
    # The subscriber's own, from either side: the new provider may keep its own record of the same person.
    switch = get_object_or_404(
        Switch.objects.select_related(
            "order__provider", "from_subscription__provider", "from_subscription__product"
        ).filter(Q(order__customer__user=request.user) | Q(from_subscription__customer__user=request.user)),
        pk=switch_id,
    )
    if switch.status not in (SwitchStatus.PENDING, SwitchStatus.SCHEDULED):
        raise Http404
    if request.method == "POST":
        try:
            services.switch_abort(switch_id=switch.pk, actor=request.user, reason="aborted by the subscriber")
        except ApplicationError as refused:
            messages.error(request, refused.message)
        else:
            messages.success(
                request,
                f"The switch is aborted: {switch.from_subscription.product.name} from "
                f"{switch.from_subscription.provider.name} runs on.",
            )
        return redirect("portal")
    return render(request, "marketplace/switch_abort.html", {"switch": switch})


@login_required
@require_POST
def subscription_change_withdraw(request, subscription_id: int):
    """Keep the current plan: a change not yet sent to the network (a downgrade waiting for its day) is withdrawn."""
    subscription = _own_subscription(request, subscription_id)
    change = open_changes_of([subscription.pk]).get(subscription.pk)
    if change is None:
        messages.info(request, f"No change of {subscription.product.name} is under way.")
        return redirect("portal")
    try:
        services.subscription_change_cancel(change_id=change.pk, actor=request.user)
    except ApplicationError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(
            request, f"You keep {subscription.product.name}: the change to {change.to_product.name} is withdrawn."
        )
    return redirect("portal")
