"""Moved to :mod:`chatkit_backend.reasoning.agents`.

This path stays importable for settings that name ``chatkit_backend.agents.default_agent``,
the default of ``CHATKIT_BACKEND["AGENT"]`` before 0.1's reshaping.
"""

from .reasoning.agents import default_agent

__all__ = ["default_agent"]
