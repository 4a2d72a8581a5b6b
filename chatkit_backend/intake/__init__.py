"""Request intake: everything between the HTTP request and the ChatKit server's work.

- ``http``: the answers and checks every endpoint shares (JSON errors, 405, origins,
  credentials and rate limits, the refused stream);
- ``parse``: the body into a ChatKit request; ``limits`` and ``validation``: what a body may
  hold, and strictness about what it may not;
- ``preflight``: what a request names (threads, items, attachments) checked before a stream
  answers 200;
- ``clients``: the client's address, as far as the site's own proxies vouch for it.
"""
