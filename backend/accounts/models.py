from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who signed in (with LinkedIn). Tier and billing live in ``billing``."""

    name = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.name or self.email or self.username
