"""Entity tags: what the page's ``entities.onTagSearch`` and ``entities.onRequestPreview`` call.

When the user types ``@`` in the composer, ChatKit asks the page for matching entities (a
person, a document, an order); the chosen one becomes a tag in the message, and the model
reads it as text (``reasoning.tags``). Here:

- ``schema``: ``Entity``, the shape @openai/chatkit's ``Entity`` type has;
- ``sources``: a built-in source, the caller's own threads (``search_threads``,
  ``preview_thread``): point ``ENTITY_SEARCH`` / ``ENTITY_PREVIEW`` at it or at your own;
- ``views``: ``GET chatkit/entities?q=…`` and ``POST chatkit/entities/preview``.
"""

from .schema import Entity
from .sources import preview_thread, search_threads

__all__ = ["Entity", "preview_thread", "search_threads"]
