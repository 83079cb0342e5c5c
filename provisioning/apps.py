from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"

    def ready(self) -> None:
        # The event handlers; the field pages' provisioning panel, its Try again and the completion hold.
        from provisioning import handlers, requests, selectors  # noqa: F401
