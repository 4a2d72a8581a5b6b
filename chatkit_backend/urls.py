from django.urls import path

from . import uploads, views

app_name = "chatkit_backend"

urlpatterns = [
    path("api", views.chatkit_api, name="api"),
    path("api/upload", uploads.direct_upload, name="upload"),
    path("api/upload/<str:attachment_id>", uploads.upload_to, name="upload_to"),
    path("attachments/<str:attachment_id>", uploads.attachment_file, name="attachment"),
]
