"""In-memory patches that make PyPI's localstripe answer like the current Stripe API.

Every module patches one family of resources and documents which Stripe behaviour it
reproduces. Nothing in site-packages is edited: ``apply_all()`` replaces methods/properties on
localstripe's classes at run time (once per process).
"""

from __future__ import annotations

from .. import state
from . import (
    billing_portal,
    cards,
    coupons,
    customers,
    events,
    export,
    invoices,
    payment_intents,
    plan_change,
    prices,
    schedules,
    setup_intents,
    subscriptions,
    trials,
)

_applied = {"done": False}


def apply_all() -> None:
    if _applied["done"]:
        return
    for module in (
        state,
        export,
        events,
        cards,
        payment_intents,
        setup_intents,
        invoices,
        prices,
        subscriptions,
        plan_change,
        schedules,
        customers,
        billing_portal,
        coupons,  # coupons and trials wrap subscriptions' and invoices' patches: keep
        trials,  # them after those
    ):
        module.apply()
    _applied["done"] = True
