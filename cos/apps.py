from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CosConfig(AppConfig):
    name = "cos"
    verbose_name = "COS core"

    def ready(self) -> None:
        from cos import fsm, notifications, signals  # noqa: F401 - the transition log, receivers, message handler
        from cos.roles import role_groups_sync

        post_migrate.connect(role_groups_sync, dispatch_uid="cos.role_groups_sync")
