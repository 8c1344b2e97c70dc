"""The demo user: who ``run.py`` tells you to log in as, and who the emulator sees.

Plain constants, importable without Django, so ``run.py`` can print them.
"""

USERNAME = "demo"
PASSWORD = "pipes-demo"
# What WorkOS would know this person as; the default identity resolver reads it from
# ``request.user.workos_user_id``.
WORKOS_USER_ID = "user_01JDEMQ8Y5RZ2T7KXW3N4B6PMA"
