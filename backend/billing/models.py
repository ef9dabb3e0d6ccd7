"""The app's own billing state: one row per user, read on every request with no Stripe call.

dj-stripe keeps the mirror of Stripe's objects; this row keeps what the app decides
from them (the entitlement) and doubles as the per-customer lock (``select_for_update``).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class BillingAccount(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_account"
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    # Bumped when the Stripe customer is deleted, so the next customer gets a new idempotency key.
    customer_generation = models.PositiveIntegerField(default=0)

    # The subscription the entitlement is computed from (the user's current one).
    subscription_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    stripe_status = models.CharField(max_length=32, blank=True, default="")
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    # Premium while now < premium_until (period end, plus the grace for past_due).
    premium_until = models.DateTimeField(null=True, blank=True, db_index=True)

    # What the last create-subscription request was, to answer a repeat the same way.
    last_purchase_fingerprint = models.CharField(max_length=255, blank=True, default="")
    last_purchase_at = models.DateTimeField(null=True, blank=True)

    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "billing account"

    def __str__(self) -> str:
        return f"{self.user} ({self.stripe_customer_id or 'no customer'})"

    @property
    def is_premium(self) -> bool:
        return self.premium_until is not None and timezone.now() < self.premium_until
