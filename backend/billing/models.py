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

    # The renewal charge that failed or awaits 3-D Secure (the status object's payment_problem),
    # as the last sync read it from Stripe: GET subscription/ never asks Stripe. Empty kind: none.
    payment_problem_kind = models.CharField(max_length=32, blank=True, default="")
    payment_problem_invoice_id = models.CharField(max_length=255, blank=True, default="")
    payment_problem_amount_due = models.PositiveIntegerField(null=True, blank=True)
    payment_problem_currency = models.CharField(max_length=8, blank=True, default="")
    payment_problem_next_attempt = models.DateTimeField(null=True, blank=True)

    # The plan (issue 15), as the last sync read it, so that GET subscription/ never asks
    # Stripe: the subscription's price (the contract's price object), the end of a running
    # trial, the subscription schedule and the price change it holds (yearly -> monthly at the
    # end of the paid year).
    price = models.JSONField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    schedule_id = models.CharField(max_length=255, blank=True, default="")
    scheduled_price = models.JSONField(null=True, blank=True)
    scheduled_change_at = models.DateTimeField(null=True, blank=True)
    # Bumped when a schedule is made, so the next one gets a new idempotency key (a released
    # schedule leaves nothing on the subscription that would tell the two apart).
    schedule_generation = models.PositiveIntegerField(default=0)
    # Set once the user had a subscription past its first payment, or any trial; never unset
    # (not even when the Stripe customer is deleted): the free trial is for a first one only.
    had_subscription = models.BooleanField(default=False)

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


class WebhookEvent(models.Model):
    """The inbox of Stripe events: stored by the receiver, processed by a Celery worker.

    The Stripe event id is the primary key, so a redelivered event is recognised by the
    database itself. ``status_changed_at`` tells the sweep how long an event has waited.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "received"
        PROCESSING = "processing", "processing"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        IGNORED = "ignored", "ignored"

    id = models.CharField("Stripe event id", max_length=255, primary_key=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=64, blank=True, default="")
    # When Stripe created the event (not when it reached us).
    created = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)
    # Who holds a ``processing`` claim (billing.holders): the Celery task id, so that its
    # redelivery takes the event back at once, and the process, so that a dead one's claim
    # is taken back by the sweep or a restarted worker instead of after the stale bound.
    claimed_by = models.CharField(max_length=255, blank=True, default="")
    claimed_process = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name = "Stripe webhook event"
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["status", "status_changed_at"], name="billing_wh_sweep_idx")
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type} ({self.status})"


class BillingEmail(models.Model):
    """A transactional e-mail about a Stripe event (billing/notifications.py), sent once.

    One row per (Stripe event, kind): the unique constraint makes a redelivered or replayed
    event find its row instead of adding a second one, and the claim (a conditional UPDATE,
    ``pending`` → ``sending``) lets exactly one task send it. ``context`` keeps the facts the
    templates show (amounts and dates already written out), so a retry sends the same mail.
    """

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "payment receipt"
        PAYMENT_FAILED = "payment_failed", "payment failed"
        ACTION_REQUIRED = "action_required", "action required"
        CANCELLATION_SCHEDULED = "cancellation_scheduled", "cancellation scheduled"
        SUBSCRIPTION_ENDED = "subscription_ended", "subscription ended"
        TRIAL_ENDING = "trial_ending", "trial ending"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENDING = "sending", "sending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"
        # Nothing to send (no address, or another mail of the same event covers it): the
        # reason is in last_error. Kept, so that a replay finds the decision already made.
        SKIPPED = "skipped", "skipped"

    event_id = models.CharField("Stripe event id", max_length=255)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="billing_emails",
    )
    to = models.EmailField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=255)
    context = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_changed_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # A pending mail is not claimed before this (the backoff after an SMTP failure).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Who holds a ``sending`` claim (billing/holders.py): the task id (its redelivery takes the
    # claim back at once) and the process (gone on this host: the sweep takes it back).
    claimed_by = models.CharField(max_length=255, blank=True, default="")
    claimed_process = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name = "billing e-mail"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["event_id", "kind"], name="billing_email_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="billing_email_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.event_id} ({self.status})"
