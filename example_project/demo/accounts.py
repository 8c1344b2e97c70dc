"""The demo users: who ``run.py`` tells you to log in as, and who the emulator sees.

Plain constants, importable without Django, so ``run.py`` can print them.

``demo`` connects their own accounts. Acme is an organization whose Salesforce
connection is shared: its administrator connects it once, and its member (like any
member) uses it without connecting anything.
"""

USERNAME = "demo"
PASSWORD = "pipes-demo"
# What WorkOS would know this person as; the default identity resolver reads it from
# ``request.user.workos_user_id``.
WORKOS_USER_ID = "user_01JDEMQ8Y5RZ2T7KXW3N4B6PMA"

ORGANIZATION_ID = "org_01JDEMQACME0RGAN1ZAT10N5A1"
ORGANIZATION_NAME = "Acme"
# The default organization resolver reads ``request.user.workos_organization_id``.
ADMIN_USERNAME = "acme-admin"
ADMIN_WORKOS_USER_ID = "user_01JDEMQACMEADM1N00000000AA"
MEMBER_USERNAME = "acme-member"
MEMBER_WORKOS_USER_ID = "user_01JDEMQACMEMEMBER0000000MB"
