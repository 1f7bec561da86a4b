"""Who a request acts for: bearer tokens, OpenID Connect people, web sessions.

:mod:`principal` names the one who acts; :mod:`people` makes a person's pseudonymous
id; :mod:`oidc` talks to the agency's OpenID Connect provider; :mod:`sessions` keeps the
web pages' sessions; :mod:`origin` refuses cross-site form posts.
"""
