"""Benchmarks of django-chatkit-backend against the peers' architecture; see README.md."""
