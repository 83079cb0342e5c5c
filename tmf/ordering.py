"""TMF622 Product Ordering over the marketplace's services: a product order's `add` items place one COS order (a new
connection, or a switch where the customer has another provider's service at the address), `modify` items change a
subscription's plan, `delete` items terminate one. The order's state follows COS's order, its items follow the
subscriptions, changes and terminations they became. `cancelProductOrder` cancels what can still be cancelled."""

from django.db import transaction
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import status
from rest_framework.response import Response

from cos.errors import NotFound
from cos.models import Customer
from marketplace import services as marketplace_services
from marketplace.choices import ChangeStatus, Channel, OrderStatus, SubscriptionStatus
from marketplace.models import Order, Price, Product, Subscription, SubscriptionChange
from marketplace.selectors import candidates_at_address
from marketplace.validation import LineRequest, OrderRequest
from tmf.common import TmfError, TmfView, href, iso, tmf_list, tmf_one
from tmf.models import CancelProductOrder, ProductOrder

API = "productOrderingManagement"
ORDER_STATES = {
    OrderStatus.DRAFT: "acknowledged",
    OrderStatus.SUBMITTED: "acknowledged",
    OrderStatus.ACCEPTED: "inProgress",
    OrderStatus.IN_FULFILLMENT: "inProgress",
    OrderStatus.COMPLETED: "completed",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.CANCELLED: "cancelled",
}
PRODUCT_STATES = {
    SubscriptionStatus.PENDING: "pendingActive",
    SubscriptionStatus.ACTIVE: "active",
    SubscriptionStatus.SUSPENDED: "suspended",
    SubscriptionStatus.AWAITING_CANCELLATION: "pendingTerminate",
    SubscriptionStatus.TERMINATED: "terminated",
    SubscriptionStatus.CANCELLED: "cancelled",
}
ADD_ITEM_STATES = {
    SubscriptionStatus.PENDING: "inProgress",
    SubscriptionStatus.CANCELLED: "cancelled",
}
CHANGE_STATES = {
    ChangeStatus.SCHEDULED: "inProgress",
    ChangeStatus.REQUESTED: "inProgress",
    ChangeStatus.APPLIED: "completed",
    ChangeStatus.CANCELLED: "cancelled",
}
IDEMPOTENCY_HEADER = "Idempotency-Key"


# --- reading -------------------------------------------------------------------------------------------------------


def _subscription_ref(subscription: Subscription) -> dict:
    return {
        "id": str(subscription.pk),
        "name": subscription.product.name,
        "status": PRODUCT_STATES.get(subscription.status, "created"),
        "place": [
            {"id": str(subscription.address_id), "name": subscription.address.label, "role": "installationAddress"}
        ],
        "@type": "Product",
    }


def _offering_ref(product: Product) -> dict:
    return {
        "id": str(product.pk),
        "href": href("productCatalogManagement", "productOffering", product.pk),
        "name": product.name,
    }


def _appointment(order: Order) -> dict | None:
    work_order = order.work_orders.filter(scheduled_for__isnull=False).order_by("-pk").first()
    if work_order is None:
        return None
    window = ""
    if work_order.scheduled_window_start:
        window = f" {work_order.scheduled_window_start:%H:%M}–{work_order.scheduled_window_end:%H:%M}"
    return {"id": f"WO-{work_order.pk}", "description": f"installation on {work_order.scheduled_for}{window}"}


def _add_items(order: Order, ids: dict[int, str]) -> list[dict]:
    items = []
    appointment = _appointment(order)
    for number, line in enumerate(order.lines.select_related("product").order_by("pk"), start=1):
        subscription = getattr(line, "subscription", None)
        if order.status == OrderStatus.REJECTED:
            state = "rejected"
        elif subscription is None:
            state = ORDER_STATES[order.status]
        else:
            state = ADD_ITEM_STATES.get(subscription.status, "completed")
        item = {
            "id": ids.get(line.product_id, str(number)),
            "action": "add",
            "quantity": 1,
            "state": state,
            "productOffering": _offering_ref(line.product),
            "product": _subscription_ref(subscription)
            if subscription
            else {
                "place": [{"id": str(order.address_id), "name": order.address.label, "role": "installationAddress"}],
                "@type": "Product",
            },
            "@type": "ProductOrderItem",
        }
        if appointment:
            item["appointment"] = appointment
        items.append(item)
    return items


def _other_items(record: ProductOrder | None) -> list[dict]:
    items = []
    for kept in record.items if record else []:
        if kept["action"] == "add":
            continue
        subscription = Subscription.objects.select_related("product", "address").get(pk=kept["subscription"])
        if kept["action"] == "modify":
            change = SubscriptionChange.objects.select_related("to_product").get(pk=kept["change"])
            state = CHANGE_STATES.get(change.status, "inProgress")
            offering = _offering_ref(change.to_product)
        else:
            state = {
                SubscriptionStatus.AWAITING_CANCELLATION: "inProgress",
                SubscriptionStatus.TERMINATED: "completed",
            }.get(subscription.status, "cancelled")
            offering = _offering_ref(subscription.product)
        items.append(
            {
                "id": kept["id"],
                "action": kept["action"],
                "quantity": 1,
                "state": state,
                "productOffering": offering,
                "product": _subscription_ref(subscription),
                "@type": "ProductOrderItem",
            }
        )
    return items


def _overall(items: list[dict], order: Order | None) -> str:
    if order is not None and order.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
        return ORDER_STATES[order.status]
    states = {item["state"] for item in items}
    if states <= {"completed"}:
        return "completed"
    if states <= {"cancelled"}:
        return "cancelled"
    if "inProgress" in states or "acknowledged" in states:
        return "acknowledged" if order is not None and order.status == OrderStatus.SUBMITTED else "inProgress"
    return "partial"


def tmf_id(order: Order | None, record: ProductOrder | None) -> str:
    """A product order made here has its own id; an order placed elsewhere (the portal, /api/v1/) is order-<id>."""
    return str(record.pk) if record is not None else f"order-{order.pk}"


def product_order(*, order: Order | None = None, record: ProductOrder | None = None, lookup: bool = True) -> dict:
    """The TMF representation; `lookup=False` when the caller knows the order has no ProductOrder of its own."""
    if record is not None and order is None and record.order_id:
        order = record.order
    if order is not None and record is None and lookup:
        record = ProductOrder.objects.filter(order=order).first()
    ids = {kept["offering"]: kept["id"] for kept in (record.items if record else []) if kept["action"] == "add"}
    items = (_add_items(order, ids) if order is not None else []) + _other_items(record)
    pk = tmf_id(order, record)
    body = {
        "id": pk,
        "href": href(API, "productOrder", pk),
        "orderDate": iso(record.created_at if record else order.created_at),
        "state": _overall(items, order),
        "productOrderItem": items,
        "@type": "ProductOrder",
    }
    if record is not None and record.external_id:
        body["externalId"] = record.external_id
    if record is not None and record.description:
        body["description"] = record.description
    if order is not None:
        customer = order.customer
        body["relatedParty"] = [
            {
                "id": str(customer.pk),
                "name": customer.display_name,
                "role": "customer",
                "@referredType": "Organization" if customer.customer_type == "business" else "Individual",
            }
        ]
        body["category"] = str(order.marketplace_id)
        body["channel"] = [{"id": order.channel, "name": order.get_channel_display()}]
        if order.preferred_install_date:
            body["requestedStartDate"] = f"{order.preferred_install_date.isoformat()}T00:00:00Z"
        if order.completed_at:
            body["completionDate"] = iso(order.completed_at)
        if order.status == OrderStatus.CANCELLED:
            body["cancellationReason"] = order.cancellation_reason or "cancelled"
        if order.status == OrderStatus.REJECTED and order.rejection_reason:
            body["note"] = [{"id": "1", "text": order.rejection_reason, "author": "COS"}]
    return body


def product_orders(provider) -> list[dict]:
    records = {r.order_id: r for r in ProductOrder.objects.filter(provider=provider).select_related("order")}
    orders = (
        Order.objects.filter(provider=provider)
        .select_related("customer", "address")
        .prefetch_related("lines__product", "lines__subscription__product", "lines__subscription__address")
        .order_by("-pk")
    )
    bodies = [product_order(order=order, record=records.get(order.pk), lookup=False) for order in orders]
    bodies += [product_order(record=r) for key, r in records.items() if key is None]
    return sorted(bodies, key=lambda body: body["orderDate"], reverse=True)


def _find(provider, pk: str) -> dict:
    pk = str(pk)
    if pk.startswith("order-") and pk[6:].isdigit():
        order = Order.objects.filter(provider=provider, pk=int(pk[6:])).first()
        if order is not None:
            return product_order(order=order)
    elif pk.isdigit():
        record = ProductOrder.objects.filter(provider=provider, pk=int(pk)).first()
        if record is not None:
            return product_order(record=record)
    raise NotFound(f"No product order {pk} of yours.")


# --- creating ------------------------------------------------------------------------------------------------------


def _customer(provider, parties, address) -> Customer:
    """The customer party: an id of a customer of yours, or a new one with its contact media (billed at the
    installation address unless a postalAddress says otherwise)."""
    party = next((p for p in parties or [] if isinstance(p, dict) and p.get("role") == "customer"), None)
    if party is None:
        raise TmfError("Name the customer: relatedParty with role customer.", code="customer_required")
    if str(party.get("id", "")).isdigit():
        known = Customer.objects.filter(pk=int(party["id"]), orders__provider=provider).first()
        if known is None:
            raise TmfError("No customer of yours with that id.", code="customer_not_found")
        return known
    media = {
        m.get("mediumType"): m.get("characteristic") or {}
        for m in party.get("contactMedium") or []
        if isinstance(m, dict)
    }
    email = str(media.get("email", {}).get("emailAddress", "")).strip()
    postal = media.get("postalAddress", {})
    name = str(party.get("name", "")).strip()
    first, _, last = name.partition(" ")
    if not (email and first and last):
        raise TmfError(
            "A new customer needs a name (first and last) and contactMedium email (emailAddress).",
            code="customer_incomplete",
        )
    kind = "business" if party.get("@referredType") == "Organization" else "residential"
    existing = Customer.objects.filter(email__iexact=email, customer_type=kind, orders__provider=provider).first()
    return existing or Customer(
        customer_type=kind,
        first_name=first,
        last_name=last,
        email=email,
        phone=str(media.get("phone", {}).get("phoneNumber", "")).strip(),
        billing_street=str(postal.get("street1", "")).strip()
        or f"{address.street} {address.house_number}{address.suffix}",
        billing_postal_code=str(postal.get("postCode", "")).strip() or address.postal_code,
        billing_city=str(postal.get("city", "")).strip() or address.city,
    )


def _int_id(value, what: str) -> int:
    text = str(value if value is not None else "")
    if not text.isdigit() or len(text) > 18:
        raise TmfError(f"{what} is an id (a whole number).", code="invalid")
    return int(text)


def _install_place(item: dict) -> int:
    places = (item.get("product") or {}).get("place") or []
    place = next((p for p in places if isinstance(p, dict) and p.get("role") in ("installationAddress", None)), None)
    if place is None:
        raise TmfError(
            f'Item {item.get("id")}: give product.place [{{"id": <address id>, "role": "installationAddress"}}].',
            code="place_required",
        )
    return _int_id(place.get("id"), "place.id")


def _marketplace(provider, address_id: int, product_ids: list[int], customer_type: str, category) -> int:
    if category not in (None, ""):
        return _int_id(category, "category (the marketplace's id)")
    from cos.models import AddressObject

    address = AddressObject.objects.filter(pk=address_id).first()
    if address is None:
        raise TmfError("No such address.", code="address_not_found")
    found = {
        c.marketplace.pk
        for c in candidates_at_address(address=address, customer_type=customer_type, provider_ids={provider.pk})
        if c.product.pk in product_ids
    }
    if len(found) != 1:
        raise TmfError(
            "Say which marketplace (category: its id): "
            + ("none sells these offerings at the address." if not found else "more than one sells them there."),
            code="marketplace_ambiguous" if found else "not_sold_here",
        )
    return found.pop()


def _price(product_id: int, marketplace_id: int):
    price = Price.objects.filter(product_id=product_id, marketplace_id=marketplace_id).order_by("-valid_from").first()
    if price is None:
        raise TmfError(f"Offering {product_id} has no price in marketplace {marketplace_id}.", code="product_not_found")
    return price.monthly_amount, price.currency


def _requested_day(body: dict):
    raw = body.get("requestedStartDate")
    if raw in (None, ""):
        return None
    moment = parse_datetime(str(raw)) if "T" in str(raw) else None
    day = moment.date() if moment else parse_date(str(raw))
    if day is None:
        raise TmfError("requestedStartDate is a date-time, e.g. 2026-12-10T00:00:00Z.", code="invalid")
    return day


@transaction.atomic
def product_order_create(*, provider, body, user, key: str = "") -> tuple[ProductOrder, bool]:
    if not isinstance(body, dict):
        raise TmfError("The body is a ProductOrder object.", code="invalid")
    if key:
        done = ProductOrder.objects.filter(provider=provider, idempotency_key=key).first()
        if done is not None:
            return done, False
    items = body.get("productOrderItem")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise TmfError("productOrderItem is a list of at least one item.", code="invalid")
    seen = set()
    for item in items:
        if not isinstance(item.get("id"), str) or not item["id"] or item["id"] in seen:
            raise TmfError("Each productOrderItem has an id of its own (a string).", code="invalid")
        seen.add(item["id"])
        if item.get("action") not in ("add", "modify", "delete"):
            raise TmfError(f"Item {item['id']}: action is add, modify or delete.", code="invalid_action")
    record = ProductOrder.objects.create(
        provider=provider,
        external_id=str(body.get("externalId") or "")[:100],
        description=str(body.get("description") or "")[:500],
        idempotency_key=key,
    )
    kept = []
    adds = [item for item in items if item["action"] == "add"]
    if adds:
        offerings = [_int_id((item.get("productOffering") or {}).get("id"), "productOffering.id") for item in adds]
        places = {_install_place(item) for item in adds}
        if len(places) != 1:
            raise TmfError("The add items of one order are for one address.", code="one_address")
        address_id = places.pop()
        from cos.models import AddressObject

        address = AddressObject.objects.filter(pk=address_id).first()
        if address is None:
            raise TmfError("No such address.", code="address_not_found")
        customer = _customer(provider, body.get("relatedParty"), address)
        marketplace_id = _marketplace(provider, address_id, offerings, customer.customer_type, body.get("category"))
        lines = [LineRequest(pk, *_price(pk, marketplace_id)) for pk in offerings]
        order, _ = marketplace_services.order_place(
            request=OrderRequest(
                customer=customer,
                address_id=address_id,
                marketplace_id=marketplace_id,
                provider_id=provider.pk,
                channel=Channel.API,
                terms_accepted=True,
                lines=lines,
                install_date=_requested_day(body),
                idempotency_key=f"tmf:{record.pk}",
                placed_by=user,
            )
        )
        record.order = order
        kept += [{"id": item["id"], "action": "add", "offering": pk} for item, pk in zip(adds, offerings, strict=True)]
    for item in items:
        if item["action"] == "add":
            continue
        subscription_id = _int_id(
            (item.get("product") or {}).get("id"), f"Item {item['id']}: product.id (the subscription)"
        )
        if not Subscription.objects.filter(pk=subscription_id, provider=provider).exists():
            raise TmfError(
                f"Item {item['id']}: no subscription {subscription_id} of yours.", code="subscription_not_found"
            )
        if item["action"] == "modify":
            product_id = _int_id(
                (item.get("productOffering") or {}).get("id"), f"Item {item['id']}: productOffering.id"
            )
            change = marketplace_services.subscription_change_request(
                subscription_id=subscription_id, product_id=product_id, actor=user
            )
            kept.append({"id": item["id"], "action": "modify", "subscription": subscription_id, "change": change.pk})
        else:
            marketplace_services.subscription_terminate(
                subscription_id=subscription_id, reason="service_cancelled", note="TMF product order", actor=user
            )
            kept.append({"id": item["id"], "action": "delete", "subscription": subscription_id})
    record.items = kept
    record.save(update_fields=["order", "items", "updated_at"])
    return record, True


class ProductOrderList(TmfView):
    def get(self, request):
        return tmf_list(request, product_orders(request.provider))

    def post(self, request):
        key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()[:100]
        record, created = product_order_create(provider=request.provider, body=request.data, user=request.user, key=key)
        body = product_order(record=ProductOrder.objects.select_related("order").get(pk=record.pk))
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ProductOrderDetail(TmfView):
    def get(self, request, pk: str):
        return tmf_one(request, _find(request.provider, pk))


# --- cancelling ----------------------------------------------------------------------------------------------------


def cancellation(row: CancelProductOrder) -> dict:
    body = {
        "id": str(row.pk),
        "href": href(API, "cancelProductOrder", row.pk),
        "state": row.state,
        "cancellationReason": row.reason,
        "effectiveCancellationDate": iso(row.created_at) if row.state == "done" else None,
        "productOrder": {
            "id": tmf_id(row.product_order.order, row.product_order),
            "href": href(API, "productOrder", tmf_id(row.product_order.order, row.product_order)),
        },
        "@type": "CancelProductOrder",
    }
    if row.error:
        body["note"] = [{"id": "1", "text": row.error}]
    return {key: value for key, value in body.items() if value is not None}


def _cancel(record: ProductOrder, reason: str, user) -> None:
    if record.order_id:
        marketplace_services.order_cancel(order_id=record.order_id, reason=reason, actor=user)
    for kept in record.items:
        if kept["action"] == "modify":
            marketplace_services.subscription_change_cancel(change_id=kept["change"], actor=user)
        elif kept["action"] == "delete":
            marketplace_services.subscription_notice_withdraw(subscription_id=kept["subscription"], actor=user)


class CancelList(TmfView):
    def get(self, request):
        rows = CancelProductOrder.objects.filter(provider=request.provider).select_related("product_order__order")
        return tmf_list(request, [cancellation(r) for r in rows.order_by("-pk")])

    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        ref = body.get("productOrder") if isinstance(body.get("productOrder"), dict) else {}
        target = str(ref.get("id", ""))
        reason = str(body.get("cancellationReason") or "")[:200]
        record = None
        if target.startswith("order-") and target[6:].isdigit():
            order = Order.objects.filter(provider=request.provider, pk=int(target[6:])).first()
            if order is not None:
                record = ProductOrder.objects.filter(order=order).first() or ProductOrder.objects.create(
                    provider=request.provider, order=order, items=[]
                )
        elif target.isdigit():
            record = ProductOrder.objects.filter(provider=request.provider, pk=int(target)).first()
        if record is None:
            raise TmfError(f"No product order {target or '(none given)'} of yours.", code="product_order_not_found")
        state, error = "done", ""
        try:
            with transaction.atomic():
                _cancel(record, reason, request.user)
        except Exception as refused:  # noqa: BLE001 - any refusal ends the request with its reason, nothing changed
            from cos.errors import ApplicationError

            if not isinstance(refused, ApplicationError):
                raise
            state, error = "terminatedWithError", f"{refused.code}: {refused.message}"
        row = CancelProductOrder.objects.create(
            provider=request.provider, product_order=record, reason=reason, state=state, error=error
        )
        return Response(cancellation(row), status=status.HTTP_201_CREATED)


class CancelDetail(TmfView):
    def get(self, request, pk: str):
        if not str(pk).isdigit():
            raise NotFound(f"No cancellation {pk} of yours.")
        row = CancelProductOrder.objects.filter(provider=request.provider, pk=int(pk)).first()
        if row is None:
            raise NotFound(f"No cancellation {pk} of yours.")
        return tmf_one(request, cancellation(row))
