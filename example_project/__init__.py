"""The example site: a Django project that serves ChatKit with ``chatkit_backend``."""
