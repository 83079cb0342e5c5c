"""Celery entry points of wholesale (thin: the work is in wholesale.settlement and wholesale.variance)."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone


@shared_task(ignore_result=True)
def settlement_month_end_task(month: str | None = None) -> str:
    """Month end (Celery beat, on the 1st): the last month's draft statements from the ledger, its variance check,
    and, where WHOLESALE_ISSUE_AT_MONTH_END is on, the drafts issued. Safe to run again: issued statements stay."""
    from cos.choices import OrganizationKind
    from cos.models import Organization
    from cos.periods import add_months
    from marketplace.selectors import local_day
    from wholesale.services import statement_issue
    from wholesale.settlement import month_of, settlement_run
    from wholesale.variance import variance_check

    if not Organization.objects.filter(kind=OrganizationKind.NETWORK_OPERATOR).exists():
        return "no network operator: nothing to settle"
    today = local_day(timezone.now(), settings.SITE_TIME_ZONE)
    period = month_of(month) if month else month_of(add_months(today.replace(day=1), -1))
    result = settlement_run(month=period.start)
    variance = variance_check(month=period.start)
    issued = 0
    if settings.WHOLESALE_ISSUE_AT_MONTH_END:
        for statement in result.statements:
            statement_issue(statement_id=statement.pk)
            issued += 1
    return (
        f"{period.start:%Y-%m}: {len(result.statements)} statement(s), {issued} issued, {len(variance)} variance row(s)"
    )
