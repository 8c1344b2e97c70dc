"""Settings for the test suite: a minimal project with the app installed."""

from __future__ import annotations

import django

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_workos_pipes",
    "tests",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

if django.VERSION >= (6, 1):
    # Django 6.1 replaces EMAIL_BACKEND with MAILERS; the test environment swaps in locmem.
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

API_KEY = "sk_test_a1b2c3d4e5f6g7h8i9j0"
WEBHOOK_SECRET = "whsec_test_0123456789abcdef"

WORKOS_PIPES = {
    "API_KEY": API_KEY,
    "WEBHOOK_SECRET": WEBHOOK_SECRET,
    "BACKOFF_FACTOR": 0,
    "TIMEOUT": 2,
}

# A deliberately weak, fast hasher: tests create users, and real ones cost ~0.3 s each.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
