from django.apps import AppConfig


class WorkordersConfig(AppConfig):
    name = "workorders"
    verbose_name = "Work orders"

    def ready(self) -> None:
        from workorders import handlers, portal  # noqa: F401 - event handlers and the portal's order section
