from django.apps import AppConfig


class WorkordersConfig(AppConfig):
    name = "workorders"
    verbose_name = "Work orders"

    def ready(self) -> None:
        from workorders import handlers  # noqa: F401 - registers the event handlers
