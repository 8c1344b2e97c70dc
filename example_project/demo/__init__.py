"""The example site's one app: a login, a dashboard and pages that need connections."""
