"""Run OpenAI's ChatKit UI on your own Django backend."""

__version__ = "0.1.0"
