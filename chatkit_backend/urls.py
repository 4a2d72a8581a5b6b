from django.urls import path

from . import views

app_name = "chatkit_backend"

urlpatterns = [
    path("api", views.chatkit_api, name="api"),
]
