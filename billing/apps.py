from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing import handlers, ledger_checks  # noqa: F401 - registers the event handlers and sync checks
