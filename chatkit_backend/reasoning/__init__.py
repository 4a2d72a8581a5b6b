"""The reasoning layer: from a thread's history to a streamed Agents SDK run.

It knows nothing about HTTP. ``DjangoChatKitServer.respond()`` hands each turn to its
orchestrator (``orchestrator_class``), which builds the model input from stored history
(``history``), resolves the agent (``agents``), runs it through the provider factory and
streams ChatKit events back, with provider item ids replaced by ours (``store_ids``) and the
thread titled from its first message (``titles``).
"""
