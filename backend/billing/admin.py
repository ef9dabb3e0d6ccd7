"""Django admin for billing: the Stripe webhook inbox, with a Replay action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from .inbox import inbox_replay
from .models import BillingAccount, WebhookEvent
from .tasks import webhook_event_enqueue


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
    list_filter = ("stripe_status",)
    readonly_fields = ("created_at", "updated_at", "synced_at")
