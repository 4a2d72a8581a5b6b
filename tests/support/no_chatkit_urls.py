"""A URL conf without chatkit_backend.urls (tests/test_lean_path.py)."""

urlpatterns: list = []
