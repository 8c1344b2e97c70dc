"""Settings of the example site, read from the environment and an optional ``.env``.

``run.py`` sets the WorkOS variables so that the site talks to the local emulator it
starts. Everything else has a development default: SQLite in ``.state/`` and the
process-local cache. ``DATABASE_URL`` and ``CACHE_URL`` switch to PostgreSQL and Redis
(see ``.env.example``). Cached tokens are encrypted, with a key made on the first run
and kept in ``.state/encryption.key``.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

from django_workos_pipes.caching.crypto import generate_key

BASE_DIR = Path(__file__).resolve().parent

env = environ.Env()
# Variables already in the environment win over the file (run.py's among them).
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

STATE_DIR = Path(env.str("EXAMPLE_STATE_DIR", default=str(BASE_DIR / ".state")))

SECRET_KEY = env.str("SECRET_KEY", default="example-project-insecure-development-key")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    # First, so its templates override the app's refusal pages.
    "example_project.demo",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_workos_pipes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                # The template tags read the user from the request.
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "example_project.demo.context_processors.demo",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{STATE_DIR / 'db.sqlite3'}")}
if "DATABASE_URL" not in env:
    STATE_DIR.mkdir(parents=True, exist_ok=True)  # for the default SQLite file

# locmem by default: one runserver process shares it between its threads, webhook
# included. Several processes need a shared cache: CACHE_URL=redis://127.0.0.1:6379/1.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://example-project")}

AUTH_USER_MODEL = "demo.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

USE_TZ = True
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
LANGUAGE_CODE = "en-us"
USE_I18N = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def encryption_keys(state_dir: Path) -> list[str]:
    """``WORKOS_PIPES_ENCRYPTION_KEYS`` if set, else the example's own key, made on the
    first run and kept (readable by its owner only) in ``state_dir/encryption.key``."""
    if "WORKOS_PIPES_ENCRYPTION_KEYS" in env:
        return env.list("WORKOS_PIPES_ENCRYPTION_KEYS")
    path = state_dir / "encryption.key"
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return [path.read_text().strip()]
    key = generate_key()
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return [key]


# The defaults match `python -m django_workos_pipes.emulator` started by hand.
WORKOS_PIPES = {
    "API_KEY": env.str("WORKOS_API_KEY", default="sk_test_emulator"),
    "BASE_URL": env.str("WORKOS_BASE_URL", default="http://127.0.0.1:4100"),
    "WEBHOOK_SECRET": env.str("WORKOS_WEBHOOK_SECRET", default=""),
    # Who may connect and disconnect an organization's shared connections (here, users
    # flagged organization_admin); members of the organization use them either way.
    "ORGANIZATION_ADMIN_RESOLVER": "example_project.demo.resolvers.organization_admin",
    # Tokens encrypted in the cache, as production should have them (ENCRYPT_TOKENS=false
    # stores them in plain text, to compare).
    "ENCRYPTION_KEYS": encryption_keys(STATE_DIR)
    if env.bool("ENCRYPT_TOKENS", default=True)
    else [],
}

# Where the header links to the emulator's control page; empty hides the link.
_local_workos = WORKOS_PIPES["BASE_URL"].startswith(("http://127.", "http://localhost"))
EMULATOR_URL = env.str("EMULATOR_URL", default=WORKOS_PIPES["BASE_URL"] if _local_workos else "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"short": {"format": "[%(asctime)s] %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "short"}},
    # One line per WorkOS call and per webhook, tokens and keys masked.
    "loggers": {"django_workos_pipes": {"handlers": ["console"], "level": "INFO"}},
}
