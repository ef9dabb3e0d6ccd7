"""Reads of billing state. None of these call Stripe."""

from typing import Any, Literal

from django.contrib.auth.models import AnonymousUser

from accounts.models import User

from .entitlement import status_object
from .models import BillingAccount

Tier = Literal["guest", "free", "premium"]


def billing_account_for(user: User) -> BillingAccount | None:
    try:
        return user.billing_account
    except BillingAccount.DoesNotExist:
        return None


def tier_for(user: User | AnonymousUser | None) -> Tier:
    """guest / free / premium, from the stored entitlement (re-read from the database)."""
    if user is None or not user.is_authenticated:
        return "guest"
    account = BillingAccount.objects.filter(user_id=user.pk).only("premium_until").first()
    return "premium" if account is not None and account.is_premium else "free"


def is_premium(user: User | AnonymousUser | None) -> bool:
    return tier_for(user) == "premium"


def subscription_status(user: User) -> dict[str, Any]:
    """The contract's status object for ``user`` (docs/api.md, "The status object")."""
    account = BillingAccount.objects.filter(user_id=user.pk).first()
    return status_object(account)
