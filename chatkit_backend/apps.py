from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatKitBackendConfig(AppConfig):
    name = "chatkit_backend"
    verbose_name = _("ChatKit")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
