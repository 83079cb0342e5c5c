from django.apps import AppConfig


class TmfConfig(AppConfig):
    name = "tmf"
    verbose_name = "TM Forum Open APIs"

    def ready(self) -> None:
        from cos.webhooks import format_register
        from tmf.events import TmfFormat

        format_register("tmf", TmfFormat())
