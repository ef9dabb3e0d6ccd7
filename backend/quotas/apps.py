from django.apps import AppConfig


class QuotasConfig(AppConfig):
    name = "quotas"
    verbose_name = "Data-API quotas"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
