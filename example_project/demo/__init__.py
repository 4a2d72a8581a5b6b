"""The demo app: the agent that answers, the chat page and the ``demo_token`` command."""
