"""Demo data of billing: the rules of each marketplace and the reason codes for overrides.

The demo's invoices come from the demo activation itself: closing 'Turn the service on' in /field/ activates
Anna's pre-order, and `service.activated` issues her first invoice (prorated, with the start fee), which she pays
in the portal with a test card (the offline gateway).
"""

from decimal import Decimal

from billing.models import BillingConfig, ReasonCode
from marketplace.models import Marketplace

REASON_CODES = [
    ("goodwill", "Goodwill gesture"),
    ("service-outage", "Compensation for a service outage"),
    ("price-match", "Price match or retention offer"),
    ("billing-error", "Correction of a billing error"),
    ("bad-debt", "Bad debt: collection given up"),
]


def seed() -> list[str]:
    for code, label in REASON_CODES:
        ReasonCode.objects.get_or_create(code=code, defaults={"label": label})
    for marketplace in Marketplace.objects.all():
        BillingConfig.objects.get_or_create(
            marketplace=marketplace,
            provider=None,
            defaults={
                "due_days": 14,
                "review_minutes": 0,
                "late_fee_kind": "fixed",
                "late_fee_value": Decimal("60.00"),
                "late_fee_grace_days": 5,
                "recovery_fee": Decimal("900.00"),
            },
        )
    return []


def finish() -> list[str]:
    return [
        "Billing demo: after 'Turn the service on', Anna's first invoice is at /portal/invoices/ (log in as 'anna') "
        "and in /admin/billing/invoice/ ('finance'). Anna adds test card 4242 4242 4242 4242 under 'Payment "
        "methods' and pays the invoice from its page (offline gateway: no money moves). "
        "`python manage.py run_billing --dry-run` shows the next cycle."
    ]
