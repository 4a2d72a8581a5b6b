from django.urls import path

from . import composer, views
from .attachments import views as attachment_views
from .entities import views as entity_views

app_name = "chatkit_backend"

urlpatterns = [
    path("api", views.chatkit_api, name="api"),
    path("api/upload", attachment_views.direct_upload, name="upload"),
    path("api/upload/<str:attachment_id>", attachment_views.upload_to, name="upload_to"),
    path("attachments/<str:attachment_id>", attachment_views.attachment_file, name="attachment"),
    path("composer", composer.composer, name="composer"),
    path("entities", entity_views.entity_search, name="entities"),
    path("entities/preview", entity_views.entity_preview, name="entity_preview"),
]
