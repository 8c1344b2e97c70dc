"""Talking to WorkOS: the HTTP client and the protocol its test doubles implement.

Only :mod:`django_workos_pipes.service` calls a client; everything else asks the service.
"""
