from django.contrib import admin
from django.urls import include, path
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from example_project.demo import views

urlpatterns = [
    path("", views.index, name="index"),
    path("admin/", admin.site.urls),
    # Django's login and logout views, for when EXAMPLE_AUTO_LOGIN is off.
    path("accounts/", include("django.contrib.auth.urls")),
    # The ChatKit protocol endpoint: POST /chatkit/api (URL name "chatkit_backend:api").
    path("chatkit/", include("chatkit_backend.urls")),
    # JSON Web Tokens for clients on other origins or outside the browser (curl, mobile apps).
    path("api/token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("api/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
]
