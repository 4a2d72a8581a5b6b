from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatKitBackendConfig(AppConfig):
    name = "chatkit_backend"
    verbose_name = _("ChatKit")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_delete

        from . import checks  # noqa: F401  (registers the system checks)
        from .attachments import delete_file_with_row
        from .connections import connection_opened
        from .live import notify
        from .models import Attachment, Thread
        from .turns import stop_turns_of_deleted_thread

        post_delete.connect(delete_file_with_row, sender=Attachment, dispatch_uid="chatkit_files")
        # However a thread is deleted (the API, the admin, a cascade), its running turn stops.
        post_delete.connect(
            stop_turns_of_deleted_thread, sender=Thread, dispatch_uid="chatkit_stop_turns"
        )
        # The lean handler closes a response without a hop only if no connection is open.
        connection_created.connect(connection_opened, dispatch_uid="chatkit_connections")
        notify.connect()  # committed changes become notices on the owners' sockets
