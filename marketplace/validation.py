"""Order validation: every reason an order request cannot be submitted, as (code, message) problems. Reads only."""

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal

from cos.models import AddressObject, Customer
from marketplace.catalog import market_snapshot
from marketplace.choices import Channel, InstallSlot, ValidationCode
from marketplace.models import Marketplace, Participation, Product
from marketplace.selectors import (
    Candidate,
    Problem,
    candidates_at_address,
    default_today,
    held_at_address,
    marketplace_today,
    switchable_subscriptions,
)

Code = ValidationCode
NO_WINDOW = "Choose a preferred installation date."
MAX_LINES = 20  # one of each category and its add-ons is a handful


@dataclass(frozen=True)
class LineRequest:
    """One product the customer asks for, with the monthly price and currency they were shown."""

    product_id: int
    monthly_amount: Decimal
    currency: str


@dataclass
class OrderRequest:
    """Everything needed to place an order, from the portal or a provider's API call."""

    customer: Customer
    address_id: int
    marketplace_id: int
    provider_id: int
    lines: list[LineRequest]
    channel: str = Channel.PORTAL
    terms_accepted: bool = False
    install_date: date | None = None
    install_slot: str = InstallSlot.ANY
    idempotency_key: str = ""
    placed_by: object = None
    extra: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        """A hash of what was asked, to tell a retry (same key, same request) from a key reused for another order."""
        body = {
            # Who the customer is, not their row id: a retry may not have found the row the first request created.
            "customer": [self.customer.customer_type, self.customer.email.lower()],
            "address": self.address_id,
            "marketplace": self.marketplace_id,
            "provider": self.provider_id,
            "lines": [asdict(line) for line in self.lines],
            "install_date": self.install_date,
            "install_slot": self.install_slot,
        }
        return hashlib.sha256(json.dumps(body, default=str, sort_keys=True).encode()).hexdigest()


@dataclass
class Validated:
    """The outcome of validation: the problems, and for each product line the candidate it matched."""

    problems: list[Problem]
    address: AddressObject | None = None
    marketplace: Marketplace | None = None
    participation: Participation | None = None
    matched: dict[int, Candidate] = field(default_factory=dict)
    is_preorder: bool = False
    # category -> another provider's subscription of this customer that the order takes over (a switch)
    switches: dict = field(default_factory=dict)


def order_request_validate(request: OrderRequest, *, address: AddressObject | None) -> Validated:
    """All problems of an order request (empty when it can be submitted). Pure reads; the caller locks the address."""
    problems: list[Problem] = []
    if address is None:
        return Validated([Problem(Code.ADDRESS_NOT_FOUND, f"Address {request.address_id} does not exist.")])
    snapshot = market_snapshot(default_today())
    marketplace = snapshot.marketplace_at(request.marketplace_id, address.area_id)
    if marketplace is None:
        return Validated(
            [Problem(Code.MARKETPLACE_NOT_AVAILABLE, "This marketplace does not sell at this address.")],
            address=address,
        )
    result = Validated(problems, address=address, marketplace=marketplace)
    if request.customer.customer_type != marketplace.segment:
        problems.append(
            Problem(
                Code.CUSTOMER_TYPE,
                f"The {marketplace.name} marketplace sells to {marketplace.segment} customers, "
                f"not {request.customer.customer_type}.",
            )
        )
    if address.status != "connected" and not marketplace.takes_preorders:
        problems.append(
            Problem(
                Code.ADDRESS_NOT_SERVICEABLE,
                f"The address is {address.get_status_display().lower()}; "
                "this marketplace only takes orders at connected addresses.",
            )
        )
    if not request.lines:
        problems.append(Problem(Code.NO_LINES, "Choose at least one product."))
    repeated = sorted(pid for pid, n in Counter(line.product_id for line in request.lines).items() if n > 1)
    for product_id in repeated:
        problems.append(
            Problem(Code.DUPLICATE, f"Product {product_id} is on the order more than once: order it once.", product_id)
        )
    if len(request.lines) > MAX_LINES:
        problems.append(Problem(Code.NO_LINES, f"An order has at most {MAX_LINES} lines.", None))
    if not request.terms_accepted:
        problems.append(Problem(Code.TERMS_NOT_ACCEPTED, "The terms must be accepted."))
    problems.extend(_installation_window_problems(request, marketplace))
    if problems and any(p.code in (Code.CUSTOMER_TYPE, Code.ADDRESS_NOT_SERVICEABLE) for p in problems):
        return result

    holdings = held_at_address(address_id=address.pk)
    candidates = {
        c.product.pk: c
        for c in candidates_at_address(
            address=address,
            customer_type=marketplace.segment,
            marketplace_ids={marketplace.pk},
            provider_ids={request.provider_id},
            snapshot=snapshot,
            holdings=holdings,
        )
    }
    if not candidates and request.lines:
        participation = Participation.objects.filter(marketplace=marketplace, provider_id=request.provider_id).first()
        if (
            participation is None
            or participation.status != "active"
            or participation.barred_areas.filter(pk=address.area_id).exists()
        ):
            problems.append(Problem(Code.PROVIDER_NOT_AVAILABLE, "This provider does not sell at this address."))
            return result
    result.participation = next(iter(candidates.values())).participation if candidates else None
    result.is_preorder = address.status != "connected"

    unmatched = [line.product_id for line in request.lines if line.product_id not in candidates]
    products = {pk: c.product for pk, c in candidates.items()}
    if unmatched:
        products.update(Product.objects.in_bulk(unmatched))
    for line in request.lines:
        problem = _line_problem(line, products.get(line.product_id), candidates, request, marketplace)
        if problem:
            problems.append(problem)
        else:
            result.matched[line.product_id] = candidates[line.product_id]
    if result.matched:
        problems.extend(_order_level_problems(request, address, result, holdings.categories))
        if {c.product.category for c in result.matched.values()} == set(result.switches):
            # Only services taken over from another provider: no visit, so no installation window is needed.
            problems[:] = [p for p in problems if p.message != NO_WINDOW]
    return result


def _installation_window_problems(request: OrderRequest, marketplace: Marketplace) -> list[Problem]:
    if request.install_slot not in InstallSlot.values:
        return [Problem(Code.INSTALLATION_WINDOW, f"Unknown installation slot {request.install_slot!r}.")]
    if request.install_date is None:
        if marketplace.requires_installation_window:
            return [Problem(Code.INSTALLATION_WINDOW, NO_WINDOW)]
        return []
    if request.install_date <= marketplace_today(marketplace):
        return [Problem(Code.INSTALLATION_WINDOW, "The installation date must be in the future.")]
    return []


def _line_problem(line, product, candidates, request, marketplace) -> Problem | None:
    if product is None:
        return Problem(Code.PRODUCT_NOT_FOUND, f"Product {line.product_id} does not exist.", line.product_id)
    if product.provider_id != request.provider_id:
        return Problem(Code.PRODUCT_OF_OTHER_PROVIDER, f"{product.name} is another provider's product.", product.pk)
    if product.retired_at is not None:
        return Problem(Code.PRODUCT_RETIRED, f"{product.name} is no longer sold.", product.pk)
    candidate = candidates.get(product.pk)
    if candidate is None:
        return Problem(Code.PRICE_MISSING, f"{product.name} has no current price in {marketplace.name}.", product.pk)
    if candidate.problems:
        code, message = candidate.problems[0]
        return Problem(code, f"{product.name}: {message}", product.pk)
    if line.currency != marketplace.currency:
        return Problem(
            Code.CURRENCY_MISMATCH,
            f"{marketplace.name} sells in {marketplace.currency}, not {line.currency}.",
            product.pk,
        )
    if Decimal(line.monthly_amount) != candidate.price.monthly_amount:
        return Problem(
            Code.PRICE_STALE,
            f"The price of {product.name} is now {candidate.price.monthly_amount} {candidate.price.currency} "
            f"per month, not {line.monthly_amount}.",
            product.pk,
        )
    return None


def _order_level_problems(
    request: OrderRequest, address: AddressObject, result: Validated, held: list[tuple[str, int]]
) -> list[Problem]:
    """Duplicates and dependencies. A category another provider serves this customer in is a switch, not a
    duplicate (open access); one served for someone else, or being switched already, is a duplicate."""
    problems = []
    ordered = [c.product for c in result.matched.values()]
    holders: dict[str, set[int]] = {}
    for category, provider_id in held:
        holders.setdefault(category, set()).add(provider_id)
    others = {c for c, providers in holders.items() if providers - {request.provider_id}}
    wanted = {product.category for product in ordered}
    switchable = (
        switchable_subscriptions(
            address_id=address.pk,
            customer=request.customer,
            categories=others & wanted,
            other_than_provider_id=request.provider_id,
        )
        if others & wanted and request.customer.email
        else {}
    )
    seen: set[str] = set()
    for product in ordered:
        category = product.category
        takeover = switchable.get(category)
        if category in holders and category not in seen and takeover and holders[category] == {takeover.provider_id}:
            result.switches[category] = takeover
        elif category in holders or category in seen:
            problems.append(
                Problem(
                    Code.DUPLICATE,
                    f"The address already has an open order or a subscription for {product.get_category_display()}.",
                    product.pk,
                )
            )
        seen.add(category)
    own = {category for category, provider_id in held if provider_id == request.provider_id} | seen
    for product in ordered:
        if product.requires_category and product.requires_category not in own:
            problems.append(
                Problem(
                    Code.DEPENDENCY_MISSING,
                    f"{product.name} needs a {product.get_requires_category_display()} product from the same provider.",
                    product.pk,
                )
            )
    return problems
