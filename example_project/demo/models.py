"""A user model that knows its WorkOS ids: all the app's default resolvers need."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    workos_user_id = models.CharField(
        "WorkOS user ID",
        max_length=64,
        blank=True,
        help_text="The id WorkOS knows this person by (user_01H...).",
    )
    workos_organization_id = models.CharField(
        "WorkOS organization ID",
        max_length=64,
        blank=True,
        help_text="The organization this person belongs to (org_01H...), if any.",
    )
    organization_admin = models.BooleanField(
        "organization administrator",
        default=False,
        help_text="May connect and disconnect the organization's shared connections.",
    )
