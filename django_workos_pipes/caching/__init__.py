"""Caching: cache keys, the encoding of cached answers, and the webhook's event ledger.

Nothing here calls WorkOS; :mod:`django_workos_pipes.service` combines the two.
"""
