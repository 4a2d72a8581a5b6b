"""The example site's URLs plus the benchmark's debug endpoints (bench settings only)."""

from django.urls import path

from example_project.urls import urlpatterns as example_urlpatterns

from . import instrument

urlpatterns = [
    path("bench/queries", instrument.query_stats),
    path("bench/health", instrument.health),
    *example_urlpatterns,
]
