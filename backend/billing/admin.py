"""Django admin for billing: the Stripe webhook inbox, with a Replay action; the billing e-mails,
with a Retry action for failed ones; the billing rows, whose hand edits of the entitlement are
logged."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from .inbox import inbox_replay
from .models import BillingAccount, BillingEmail, WebhookEvent
from .notifications import emails_retry
from .tasks import billing_email_enqueue, webhook_event_enqueue

logger = logging.getLogger(__name__)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "type",
        "status",
        "attempts",
        "short_error",
        "created",
        "received_at",
        "processed_at",
    )
    list_filter = ("status", "type", "livemode")
    search_fields = ("id", "type", "last_error")
    date_hierarchy = "received_at"
    ordering = ("-received_at",)
    actions = ["replay"]
    readonly_fields = (
        "id",
        "type",
        "payload",
        "livemode",
        "api_version",
        "created",
        "received_at",
        "status",
        "status_changed_at",
        "attempts",
        "last_error",
        "processed_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from Stripe only

    @admin.display(description="last error")
    def short_error(self, obj: WebhookEvent) -> str:
        return obj.last_error[:80]

    @admin.action(description="Replay: process the selected events again")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        with transaction.atomic():
            inbox_replay(ids)
            transaction.on_commit(
                lambda: _report(request, self, ids, [webhook_event_enqueue(i) for i in ids])
            )


def _report(request: HttpRequest, model_admin: Any, ids: list[str], sent: list[bool]) -> None:
    ok = sum(sent)
    model_admin.message_user(request, f"{ok} of {len(ids)} event(s) enqueued again.")
    if ok < len(ids):
        model_admin.message_user(
            request,
            "The broker did not take some events; the sweep enqueues them within minutes.",
            level=messages.WARNING,
        )


@admin.register(BillingEmail)
class BillingEmailAdmin(admin.ModelAdmin):
    """The transactional e-mails (billing/notifications.py): what was sent, what is failing and
    why; failed ones can be sent again. Read-only, and rows cannot be deleted: a row is what
    keeps a replayed event from mailing twice."""

    list_display = (
        "id",
        "kind",
        "to",
        "status",
        "attempts",
        "short_error",
        "next_attempt_at",
        "sent_at",
        "event_id",
        "created_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("to", "event_id", "subject", "last_error")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ["retry"]
    readonly_fields = (
        "event_id",
        "kind",
        "user",
        "to",
        "subject",
        "context",
        "status",
        "status_changed_at",
        "attempts",
        "last_error",
        "next_attempt_at",
        "created_at",
        "sent_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # mails come from Stripe events only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="last error")
    def short_error(self, obj: BillingEmail) -> str:
        return obj.last_error[:80]

    @admin.action(description="Retry: send the selected failed e-mails again")
    def retry(self, request: HttpRequest, queryset: QuerySet[BillingEmail]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        with transaction.atomic():
            retried = emails_retry(ids)
            transaction.on_commit(
                lambda: _report_retry(
                    request, self, ids, [billing_email_enqueue(i) for i in retried]
                )
            )


def _report_retry(request: HttpRequest, model_admin: Any, ids: list[int], sent: list[bool]) -> None:
    model_admin.message_user(
        request,
        f"{sum(sent)} of {len(ids)} e-mail(s) enqueued again (only failed ones are retried; "
        "a sent e-mail is never sent twice).",
    )
    if sum(sent) < len(sent):
        model_admin.message_user(
            request,
            "The broker did not take some e-mails; the sweep enqueues them within minutes.",
            level=messages.WARNING,
        )


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "stripe_customer_id",
        "subscription_id",
        "stripe_status",
        "premium_until",
        "synced_at",
    )
    search_fields = ("user__username", "user__email", "stripe_customer_id", "subscription_id")
    list_filter = ("stripe_status", "payment_problem_kind")
    # The payment problem is what the last sync read from Stripe: the next sync would undo an edit.
    readonly_fields = (
        "created_at",
        "updated_at",
        "synced_at",
        "payment_problem_kind",
        "payment_problem_invoice_id",
        "payment_problem_amount_due",
        "payment_problem_currency",
        "payment_problem_next_attempt",
        # The plan, too, is what the last sync read (the schedule's change included); the
        # flag and the counter are kept by the app (trial eligibility, schedule idempotency keys).
        "price",
        "trial_end",
        "schedule_id",
        "scheduled_price",
        "scheduled_change_at",
        "schedule_generation",
        "had_subscription",
    )

    def save_model(
        self, request: HttpRequest, obj: BillingAccount, form: ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if change and "premium_until" in form.changed_data:
            # Granting or taking Premium by hand bypasses Stripe: leave a trail in the logs
            # (the admin's own history keeps only "Changed premium_until").
            logger.warning(
                "staff %s (id %s) changed premium_until of user %s from %s to %s",
                request.user.get_username(),
                request.user.pk,
                obj.user_id,
                form.initial.get("premium_until"),
                obj.premium_until,
                extra={
                    "staff_user_id": request.user.pk,
                    "account_user_id": obj.user_id,
                    "premium_until_before": str(form.initial.get("premium_until")),
                    "premium_until_after": str(obj.premium_until),
                },
            )
