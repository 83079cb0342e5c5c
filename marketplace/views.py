"""Customer portal pages: address search, offers, checkout, the subscriber's own orders and services."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_POST

from cos.choices import AddressStatus, CustomerType
from cos.errors import ApplicationError
from cos.models import AddressObject, Customer, TransitionLog
from cos.portal import order_sections
from cos.selectors import AddressQuery, Building, address_search
from cos.views import form_resume
from marketplace import services
from marketplace.choices import (
    OPEN_SWITCH_STATUSES,
    ORDER_STATUS_FOR_CUSTOMERS,
    SUBSCRIPTION_STATUS_FOR_CUSTOMERS,
    Channel,
    ProductCategory,
    SubscriptionStatus,
)
from marketplace.errors import OrderInvalid
from marketplace.forms import CheckoutDetailsForm, InterestForm, OfferSelectionForm, ReviewForm
from marketplace.models import Marketplace, Order, Product, Subscription, Switch
from marketplace.pricing import first_month_estimate
from marketplace.selectors import (
    address_holdings,
    addresses_what_can_be_done,
    candidates_at_address,
    marketplace_today,
    offers_for_address,
    open_changes_of,
    switch_previews,
)
from marketplace.validation import LineRequest, OrderRequest

SESSION_KEY = "checkout"
PICKED_KEY = "offers_picked"
CATEGORY_ORDER = [c.value for c in ProductCategory]


def home(request):
    """Address search with live suggestions."""
    return render(request, "marketplace/home.html", {"query": request.GET.get("q", "")})


SUGGESTIONS = 8  # under the search box; "Show all" lists up to ALL_RESULTS on a page of its own
ALL_RESULTS = 200


@require_GET
def address_suggest(request):
    """The suggestion list under the search box (an htmx partial; a full page without htmx or with "all").

    Buildings first: an apartment block is one suggestion with its number of homes, which lists its homes when
    chosen (or when its street and number are typed); an apartment typed with the address ("Solhöjdsvägen 2 1301",
    "lgh 1301") is found at once. Each suggestion says whether it can be ordered, pre-ordered, or only noted."""
    query = request.GET.get("q", "").strip()
    show_all = request.GET.get("all") == "1"
    limit = ALL_RESULTS if show_all else SUGGESTIONS
    building, results = None, []
    if len(query) >= 2:
        parsed = AddressQuery.parse(query)
        results = address_search(query=query, limit=limit + 1, buildings=not parsed.unit)
        if not parsed.unit and parsed.names_a_building and len(results) == 1 and results[0].homes > 1:
            building = results[0]  # the block itself was typed: its homes, all of them
            results = [
                Building(address, 1, address.status)
                for address in address_search(query=building.query, limit=ALL_RESULTS + 1)
            ]
            limit = ALL_RESULTS
        elif parsed.unit:
            results = [Building(address, 1, address.status) for address in results]
    more, results = len(results) > limit, results[:limit]
    partial = request.headers.get("HX-Request") and not show_all
    return render(
        request,
        "marketplace/_suggestions.html" if partial else "marketplace/search.html",
        {"rows": addresses_what_can_be_done(results), "query": query, "more": more, "building": building},
    )


def _customer_type_for(request) -> str:
    wanted = request.GET.get("customer_type") or request.POST.get("customer_type")
    if wanted in CustomerType.values:
        return wanted
    customer = getattr(request.user, "customer", None) if request.user.is_authenticated else None
    return customer.customer_type if customer else CustomerType.RESIDENTIAL


def address_offers(request, address_id: int):
    """What can be bought at the address: offers grouped by category, side by side."""
    address = get_object_or_404(AddressObject.objects.select_related("area"), pk=address_id)
    customer_type = _customer_type_for(request)
    offers = offers_for_address(address=address, customer_type=customer_type)
    customer = getattr(request.user, "customer", None) if request.user.is_authenticated else None
    holdings = address_holdings(address_id=address.pk, customer=customer)
    grouped = defaultdict(list)
    for offer in sorted(offers, key=lambda o: (o.price.monthly_amount, o.provider.name)):
        grouped[offer.category].append(_offer_row(offer, holdings.get(offer.category), signed_in=customer is not None))
    categories = [(ProductCategory(c).label, grouped[c]) for c in CATEGORY_ORDER if grouped.get(c)]
    picked = request.session.pop(PICKED_KEY, None) or {}  # ticked before an error sent the customer back here
    if picked.get("address_id") == address.pk:
        for rows in grouped.values():
            for row in rows:
                row["picked"] = f"{row['offer'].marketplace.pk}:{row['offer'].product.pk}" in picked["offers"]
    form = OfferSelectionForm(offers=offers, initial={"customer_type": customer_type})
    return render(
        request,
        "marketplace/address.html",
        {
            "address": address,
            "customer_type": customer_type,
            "customer_types": CustomerType.choices,
            "categories": categories,
            "form": form,
            "interest_form": InterestForm(),
            "connected": address.status == AddressStatus.CONNECTED,
            "any_preorder": any(o.is_preorder for o in offers),
        },
    )


def _offer_row(offer, holding, *, signed_in: bool) -> dict:
    """An offer as the subscriber may take it: freely, as a switch from their current provider (with the
    earliest hand-over day), or not at all (the address has the category already), with the reason shown."""
    row = {"offer": offer, "note": "", "switch": False, "disabled": False}
    if holding is None:
        return row
    if holding.mine and holding.provider_id != offer.provider.pk and not holding.switchable:
        row["disabled"] = True
        row["note"] = (
            f"Your {offer.product.get_category_display().lower()} from {holding.provider_name} is not live yet "
            "or is being switched: see My services."
        )
    elif holding.mine and holding.provider_id == offer.provider.pk:
        row["disabled"] = True
        row["note"] = (
            f"You have {holding.product_name} from {holding.provider_name}: change plan under My services."
            if holding.product_name != offer.product.name
            else "Your current plan."
        )
    elif holding.switchable:
        row["switch"] = True
        row["note"] = (
            f"Switch from {holding.provider_name}: it takes over on "
            f"{date_format(holding.earliest_handover, 'j F Y')} at the earliest, with no visit and no gap in service."
        )
        if holding.early_fee:
            row["note"] += (
                f" {holding.provider_name} charges its early-termination fee of {holding.early_fee} "
                f"{holding.currency}: your minimum term there runs until {date_format(holding.minimum_end, 'j F Y')}."
            )
    else:
        row["disabled"] = True
        row["note"] = (
            f"This address has {offer.product.get_category_display().lower()} from {holding.provider_name} already."
            + ("" if signed_in else " If it is yours, log in to switch provider.")
        )
    return row


@require_POST
def address_interest(request, address_id: int):
    address = get_object_or_404(AddressObject, pk=address_id)
    form = InterestForm(request.POST)
    if form.is_valid():
        services.interest_register(
            address_id=address.pk, email=form.cleaned_data["email"], customer_type=_customer_type_for(request)
        )
        messages.success(request, "Thank you: we will tell you when you can order at this address.")
    else:
        messages.error(request, "Enter a valid email address.")
    return redirect("address-offers", address_id=address.pk)


@require_POST
def checkout_start(request):
    """Keep the chosen offers in the session and go on to the details."""
    address = get_object_or_404(AddressObject, pk=request.POST.get("address") or 0)
    customer_type = _customer_type_for(request)
    offers = offers_for_address(address=address, customer_type=customer_type)
    form = OfferSelectionForm(request.POST, offers=offers)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        request.session[PICKED_KEY] = {"address_id": address.pk, "offers": request.POST.getlist("offer")}
        return redirect(f"{reverse('address-offers', args=[address.pk])}?customer_type={customer_type}")
    chosen = form.cleaned_data["offer"]
    request.session[SESSION_KEY] = {
        "address_id": address.pk,
        "customer_type": customer_type,
        "marketplace_id": chosen[0].marketplace.pk,
        "provider_id": chosen[0].provider.pk,
        "lines": [
            {"product_id": o.product.pk, "monthly_amount": str(o.price.monthly_amount), "currency": o.price.currency}
            for o in chosen
        ],
    }
    return redirect("checkout-details")


def _checkout_state(request):
    state = request.session.get(SESSION_KEY)
    if not state or not state.get("lines"):
        return None
    return state


def checkout_details(request):
    """Contact, billing and installation details; sign up on the way, or log in first."""
    state = _checkout_state(request)
    if state is None:
        messages.info(request, "Start by finding your address.")
        return redirect("home")
    marketplace = get_object_or_404(Marketplace, pk=state["marketplace_id"])
    customer = getattr(request.user, "customer", None) if request.user.is_authenticated else None
    needs_login = not request.user.is_authenticated
    initial = form_resume(request) or dict(state.get("details") or {})  # typed before the page expired, or earlier
    if customer and not initial:
        initial = {
            f: getattr(customer, f)
            for f in (
                "first_name",
                "last_name",
                "company_name",
                "email",
                "phone",
                "billing_street",
                "billing_postal_code",
                "billing_city",
            )
        }
    elif request.user.is_authenticated and not initial:
        initial = {"email": request.user.email}
    chosen = list(Product.objects.filter(pk__in=[line["product_id"] for line in state["lines"]]))
    switching = bool(customer) and len(
        switch_previews(
            address_id=state["address_id"], customer=customer, categories=[p.category for p in chosen], requested=None
        )
    ) == len(chosen)
    form_kwargs = {
        "customer_type": state["customer_type"],
        "needs_login": needs_login,
        "requires_window": marketplace.requires_installation_window and not switching,
        "today": marketplace_today(marketplace),
    }
    if request.method == "POST":
        form = CheckoutDetailsForm(request.POST, **form_kwargs)
        if form.is_valid():
            details = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in form.cleaned_data.items()}
            state["details"] = details
            request.session[SESSION_KEY] = state
            return redirect("checkout-review")
    else:
        form = CheckoutDetailsForm(initial=initial, **form_kwargs)
    if switching:  # no visit: the day asked for is the hand-over day
        form.fields["install_date"].label = "Preferred switch day"
        form.fields["install_date"].help_text = "Empty: the earliest day your current provider's notice allows."
        form.fields["install_slot"].widget = forms.HiddenInput()
        form.fields["install_slot"].initial = "any"
    return render(
        request,
        "marketplace/checkout_details.html",
        {
            "form": form,
            "needs_login": needs_login,
            "marketplace": marketplace,
            "login_url": f"{reverse('login')}?next={reverse('checkout-details')}",
        },
    )


def _estimate(state, marketplace):
    """The chosen offers as they stand in the catalog today, and the first-month cost; None if one is gone."""
    address = AddressObject.objects.get(pk=state["address_id"])
    candidates = {
        c.product.pk: c
        for c in candidates_at_address(
            address=address,
            customer_type=state["customer_type"],
            marketplace_ids={marketplace.pk},
            provider_ids={state["provider_id"]},
        )
    }
    items = []
    for line in state["lines"]:
        candidate = candidates.get(line["product_id"])
        if candidate is None:
            return address, None, None
        promotion = candidate.promotion
        items.append(
            {
                "name": candidate.product.name,
                "product": candidate.product,
                "promotion": promotion,
                "monthly_amount": Decimal(line["monthly_amount"]),
                "start_fee": candidate.price.start_fee,
                "promotion_kind": promotion.kind if promotion else "",
                "promotion_value": promotion.value if promotion else None,
            }
        )
    estimate = first_month_estimate(
        items=items,
        tax_rate=marketplace.tax_rate,
        currency=marketplace.currency,
        prices_include_tax=marketplace.prices_include_tax,
    )
    return address, items, estimate


def checkout_review(request):
    """Everything once more, the first-month cost and the terms; submitting places the order."""
    state = _checkout_state(request)
    if state is None or "details" not in state:
        return redirect("checkout-details" if state else "home")
    marketplace = get_object_or_404(Marketplace, pk=state["marketplace_id"])
    address, items, estimate = _estimate(state, marketplace)
    if items is None:
        messages.error(request, "An offer you chose is no longer available; choose again.")
        return redirect("address-offers", address_id=address.pk)
    customer = getattr(request.user, "customer", None) if request.user.is_authenticated else None
    install_date = (
        date.fromisoformat(state["details"]["install_date"]) if state["details"].get("install_date") else None
    )
    switches = (
        switch_previews(
            address_id=address.pk,
            customer=customer,
            categories=[item["product"].category for item in items],
            requested=install_date,
        )
        if customer
        else []
    )
    form = ReviewForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            order = _checkout_place(request, state, terms_accepted=True)
        except OrderInvalid as refused:
            for problem in refused.problems:
                messages.error(request, problem.message)
            return redirect(f"{reverse('address-offers', args=[address.pk])}?customer_type={state['customer_type']}")
        request.session.pop(SESSION_KEY, None)
        return redirect("checkout-done", order_id=order.pk)
    return render(
        request,
        "marketplace/checkout_review.html",
        {
            "form": form,
            "state": state,
            "details": state["details"],
            "address": address,
            "items": items,
            "estimate": estimate,
            "marketplace": marketplace,
            "switches": switches,
        },
    )


def _checkout_place(request, state, *, terms_accepted: bool) -> Order:
    details = state["details"]
    customer = getattr(request.user, "customer", None) if request.user.is_authenticated else None
    new_login = None
    if customer is None:
        customer = Customer(
            customer_type=state["customer_type"],
            first_name=details["first_name"],
            last_name=details["last_name"],
            company_name=details.get("company_name", ""),
            email=details["email"],
            phone=details["phone"],
            billing_street=details["billing_street"],
            billing_postal_code=details["billing_postal_code"],
            billing_city=details["billing_city"],
        )
        if request.user.is_authenticated:
            customer.user = request.user
        else:
            new_login = get_user_model()(
                username=details["email"],
                email=details["email"],
                first_name=details["first_name"],
                last_name=details["last_name"],
            )
            new_login.set_password(details["password"])
            customer.user = new_login
    order, _ = services.order_place(
        request=OrderRequest(
            customer=customer,
            address_id=state["address_id"],
            marketplace_id=state["marketplace_id"],
            provider_id=state["provider_id"],
            channel=Channel.PORTAL,
            terms_accepted=terms_accepted,
            lines=[
                LineRequest(line["product_id"], Decimal(line["monthly_amount"]), line["currency"])
                for line in state["lines"]
            ],
            install_date=date.fromisoformat(details["install_date"]) if details.get("install_date") else None,
            install_slot=details["install_slot"],
            placed_by=request.user if request.user.is_authenticated else None,
        )
    )
    if new_login is not None:
        login(request, new_login, backend="cos.auth.UsernameOrEmailBackend")
    return order


@login_required
def checkout_done(request, order_id: int):
    order = get_object_or_404(
        Order.objects.select_related("address", "provider", "marketplace").prefetch_related("lines__product"),
        pk=order_id,
        customer__user=request.user,
    )
    switches = list(order.switches.exclude(status="aborted").select_related("from_subscription__provider"))
    return render(request, "marketplace/checkout_done.html", {"order": order, "switches": switches})


def _timelines(objects) -> dict:
    """Transition history per object, for a list of same-model objects, in one query."""
    if not objects:
        return {}
    content_type = ContentType.objects.get_for_model(objects[0])
    history = defaultdict(list)
    for entry in TransitionLog.objects.filter(
        content_type=content_type, object_id__in=[o.pk for o in objects]
    ).order_by("created_at", "id"):
        history[entry.object_id].append(entry)
    return history


@login_required
def portal(request):
    """The subscriber's orders and services, each with its status timeline."""
    customer = getattr(request.user, "customer", None)
    if customer is None:
        return render(request, "marketplace/portal.html", {"customer": None})
    orders = list(
        Order.objects.filter(customer=customer)
        .select_related("address", "provider", "marketplace")
        .prefetch_related("lines__product")
    )
    subscriptions = list(  # a subscription cancelled before it went live stays with its (cancelled) order
        Subscription.objects.filter(customer=customer)
        .exclude(status=SubscriptionStatus.CANCELLED)
        .select_related("product", "provider", "address", "marketplace", "ends_with__product")
    )
    order_history, subscription_history = _timelines(orders), _timelines(subscriptions)
    sections = order_sections(orders)
    switches = list(
        Switch.objects.filter(Q(order__customer=customer) | Q(from_subscription__customer=customer))
        .filter(status__in=OPEN_SWITCH_STATUSES)
        .select_related("order__provider", "from_subscription__provider")
    )
    switches_by_order = {switch.order_id: switch for switch in switches}
    switches_away = {switch.from_subscription_id: switch for switch in switches}
    changes = open_changes_of([s.pk for s in subscriptions])
    for entries, words in (
        (order_history, ORDER_STATUS_FOR_CUSTOMERS),
        (subscription_history, SUBSCRIPTION_STATUS_FOR_CUSTOMERS),
    ):
        for entry in (entry for found in entries.values() for entry in found):
            entry.label = words.get(entry.target, entry.target.replace("_", " "))
    for order in orders:
        order.status_words = ORDER_STATUS_FOR_CUSTOMERS.get(order.status, order.get_status_display())
        order.timeline = order_history.get(order.pk, [])
        order.sections = sections.get(order.pk, [])
        order.switch = switches_by_order.get(order.pk)
    for subscription in subscriptions:
        subscription.status_words = SUBSCRIPTION_STATUS_FOR_CUSTOMERS.get(
            subscription.status, subscription.get_status_display()
        )
        subscription.timeline = subscription_history.get(subscription.pk, [])
        subscription.change = changes.get(subscription.pk)
        subscription.switch_away = switches_away.get(subscription.pk)
    return render(
        request,
        "marketplace/portal.html",
        {
            "customer": customer,
            "orders": orders,
            "subscriptions": subscriptions,
        },
    )


@login_required
def portal_order_cancel(request, order_id: int):
    """Cancelling an order, after a page that says what happens: the services never start, nothing is billed, no
    visit is made for it (a GET shows it; the POST from it cancels)."""
    order = (
        Order.objects.filter(pk=order_id, customer__user=request.user)
        .select_related("provider", "address", "marketplace")
        .prefetch_related("lines__product")
        .first()
    )
    if order is None:
        raise Http404
    if request.method != "POST":
        if not order.is_cancellable:
            messages.info(request, f"Order {order.pk} can no longer be cancelled: end its services instead.")
            return redirect("portal")
        return render(request, "marketplace/order_cancel.html", {"order": order})
    try:
        services.order_cancel(order_id=order.pk, reason="cancelled by the customer", actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Order {order.pk} is cancelled. Nothing of it will be billed.")
    return redirect("portal")


def terms(request):
    """The terms of each marketplace, as customers accept them at checkout (the footer's "Terms")."""
    return render(request, "pages/terms.html", {"marketplaces": Marketplace.objects.order_by("name")})
