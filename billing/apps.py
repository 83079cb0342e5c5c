from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing import handlers, ledger_checks, notices  # noqa: F401 - event handlers, sync checks, the invoice PDF
