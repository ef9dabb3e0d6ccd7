"""Stripe events → their effect: which event types the app handles and what each one does.

One table, :data:`HANDLERS`, maps an event type to its handler; :data:`HANDLED_TYPES` (its
keys) tells the receiver which events to queue and which to store as ``ignored``. A
handler reads only ids from the payload (the customer, the invoice, a user id hint): the
entitlement itself is re-read from Stripe by :mod:`billing.sync`, so the order in which
events arrive, or how often, does not change the outcome.

===================================  ==================================================
``customer.subscription.created``    :func:`subscription_event_apply`: sync the customer
``customer.subscription.updated``    (same)
``customer.subscription.deleted``    (same)
``invoice.paid``                     :func:`invoice_event_apply`: sync the customer (the
``invoice.payment_failed``           entitlement and the payment problem), then mirror
``invoice.payment_action_required``  the invoice into dj-stripe
``customer.deleted``                 :func:`customer_deleted_apply`: forget the customer
``subscription_schedule.*``          :func:`schedule_event_apply`: sync the customer
(created, updated, released,         (the plan change the schedule holds)
canceled, completed)
===================================  ==================================================

``customer.subscription.trial_will_end`` (three days before a trial ends) is a subscription
event too: the same sync, and the trial reminder e-mail follows (billing/notifications.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import sync
from .models import WebhookEvent
from .stripe_objects import object_id
from .sync import SyncResult

SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        # Three days before a trial ends: synced like the others, and it asks for the trial
        # reminder e-mail (billing/notifications.py).
        "customer.subscription.trial_will_end",
    }
)
INVOICE_EVENTS = frozenset(
    {"invoice.paid", "invoice.payment_failed", "invoice.payment_action_required"}
)
CUSTOMER_DELETED = "customer.deleted"
#: A subscription schedule (a plan change at the end of the paid year) made, changed, released,
#: cancelled or run to its end: its subscription's stored plan (``scheduled_change``) follows.
SCHEDULE_EVENTS = frozenset(
    {
        "subscription_schedule.created",
        "subscription_schedule.updated",
        "subscription_schedule.released",
        "subscription_schedule.canceled",
        "subscription_schedule.completed",
    }
)


def _event_user_hint(obj: Mapping[str, Any]) -> str | None:
    """``metadata.user_id`` from a subscription or, for an invoice, its subscription's."""
    candidates = [
        obj.get("metadata"),
        ((obj.get("parent") or {}).get("subscription_details") or {}).get("metadata"),
        (obj.get("subscription_details") or {}).get("metadata"),
    ]
    for metadata in candidates:
        if isinstance(metadata, Mapping) and metadata.get("user_id"):
            return str(metadata["user_id"])
    return None


def subscription_event_apply(obj: Mapping[str, Any]) -> SyncResult:
    """A subscription changed: sync its customer (adopting it if no account has it yet)."""
    customer_id = object_id(obj.get("customer"))
    if not customer_id:
        return SyncResult("", "no_customer")
    return sync.customer_sync(customer_id=customer_id, hint_user_id=_event_user_hint(obj))


def invoice_event_apply(obj: Mapping[str, Any]) -> SyncResult:
    """An invoice was paid or failed: sync its customer, then mirror the invoice."""
    customer_id = object_id(obj.get("customer"))
    if not customer_id:
        return SyncResult("", "no_customer")
    result = sync.customer_sync(customer_id=customer_id, hint_user_id=_event_user_hint(obj))
    if obj.get("id"):
        sync.invoice_sync(str(obj["id"]))
    return result


def schedule_event_apply(obj: Mapping[str, Any]) -> SyncResult:
    """A subscription schedule changed: sync its customer (the subscription is re-read with
    its schedule expanded, so the event's payload is not trusted either)."""
    customer_id = object_id(obj.get("customer"))
    if not customer_id:
        return SyncResult("", "no_customer")
    return sync.customer_sync(customer_id=customer_id, hint_user_id=_event_user_hint(obj))


def customer_deleted_apply(obj: Mapping[str, Any]) -> SyncResult:
    """The customer was deleted at Stripe: its account forgets it and loses premium."""
    return sync.customer_delete(customer_id=object_id(obj.get("id")))


#: Event type → handler of the event's ``data.object``.
HANDLERS: dict[str, Callable[[Mapping[str, Any]], SyncResult]] = {
    **dict.fromkeys(SUBSCRIPTION_EVENTS, subscription_event_apply),
    **dict.fromkeys(INVOICE_EVENTS, invoice_event_apply),
    **dict.fromkeys(SCHEDULE_EVENTS, schedule_event_apply),
    CUSTOMER_DELETED: customer_deleted_apply,
}
#: Event types the worker acts on; the receiver stores any other type as ``ignored``.
HANDLED_TYPES = frozenset(HANDLERS)


def event_apply(event: WebhookEvent) -> SyncResult | None:
    """Act on one stored event; None for a type the worker does not handle."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        return None
    obj = (event.payload.get("data") or {}).get("object") or {}
    return handler(obj)
