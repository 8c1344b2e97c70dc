"""pytest plugin registered through the ``pytest11`` entry point.

It must import nothing that reads Django settings: pytest loads it in every project
where the package is installed, before Django is configured.
"""
