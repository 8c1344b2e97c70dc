"""The example site of django-workos-pipes: ``python3 scripts/dev.py example`` runs it."""
