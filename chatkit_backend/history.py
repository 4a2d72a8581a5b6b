"""Moved to :mod:`chatkit_backend.reasoning.history`.

This path stays importable for settings and subclasses that name
``chatkit_backend.history.HistoryConverter``, the default of
``CHATKIT_BACKEND["HISTORY_CONVERTER"]`` before 0.1's reshaping.
"""

from .reasoning.history import HistoryConverter

__all__ = ["HistoryConverter"]
