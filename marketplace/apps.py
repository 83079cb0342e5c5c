from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"

    def ready(self) -> None:
        from marketplace import handlers, signals  # noqa: F401 - event handlers and catalog versioning
