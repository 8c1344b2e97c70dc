"""A user model that knows its WorkOS user id: all the app's default resolver needs."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    workos_user_id = models.CharField(
        "WorkOS user ID",
        max_length=64,
        blank=True,
        help_text="The id WorkOS knows this person by (user_01H...).",
    )
