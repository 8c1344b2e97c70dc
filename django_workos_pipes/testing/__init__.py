"""Helpers for testing projects that use django-workos-pipes."""
