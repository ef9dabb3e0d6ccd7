"""social-auth pipeline steps: who signed in is decided by LinkedIn's ``sub`` alone."""

from typing import Any
from uuid import uuid4

from social_core.exceptions import AuthAssociationError

from .models import User


def social_user_by_sub(
    backend: Any, uid: str, user: User | None = None, *args: Any, **kwargs: Any
) -> dict[str, Any]:
    """Find the account bound to this (provider, sub); never attach a new ``sub`` to
    whoever happens to be signed in, and never look at the e-mail address."""
    social = backend.strategy.storage.user.get_social_auth(backend.name, str(uid))
    if social is not None:
        if user is not None and user.is_authenticated and social.user != user:
            raise AuthAssociationError(backend, code="identity_in_use", stage="pipeline")
        return {"social": social, "user": social.user, "is_new": False, "new_association": False}
    if user is not None and user.is_authenticated:
        # Signed in as someone else and arriving with an unknown LinkedIn identity:
        # refuse rather than silently link two identities into one account.
        raise AuthAssociationError(backend, code="user_mismatch", stage="pipeline")
    return {"social": None, "user": None, "is_new": True, "new_association": True}


def generate_username(user: User | None = None, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """A random, non-identifying username: never derived from provider-chosen values
    (which could collide with, or imitate, another account's)."""
    if user is not None:
        return {"username": user.get_username()}
    while True:
        username = f"li-{uuid4().hex[:20]}"
        if not User.objects.filter(username=username).exists():
            return {"username": username}


def sync_profile(
    details: dict[str, Any], user: User | None = None, *args: Any, **kwargs: Any
) -> None:
    """Copy the provider's current name and e-mail onto the account at every sign-in."""
    if user is None:
        return
    email = (details.get("email") or "").strip()
    name = (details.get("fullname") or "").strip()
    if not name:
        name = " ".join(
            part for part in (details.get("first_name"), details.get("last_name")) if part
        ).strip()
    changed = []
    if email and user.email != email:
        user.email = email[:254]
        changed.append("email")
    if name and user.name != name:
        user.name = name[:255]
        changed.append("name")
    if changed:
        user.save(update_fields=changed)
