"""Settings for a site behind a TLS-terminating proxy that sets ``X-Forwarded-Proto``
and ``X-Forwarded-Host``: the URLs WorkOS sends the user back to are then the public
ones. Trust these headers only when the proxy always sets them."""

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = True
ALLOWED_HOSTS = ["app.example.com"]
CSRF_TRUSTED_ORIGINS = ["https://app.example.com"]
