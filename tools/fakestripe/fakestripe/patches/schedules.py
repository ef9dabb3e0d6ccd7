"""Subscription schedules (``sub_sched_...``) on existing subscriptions, in the current shape.

Reproduces [localstripe has no schedules]:

* ``POST /v1/subscription_schedules`` with ``from_subscription`` (and ``metadata``): one phase
  — the subscription's price from its current period's start to its end —, ``end_behavior:
  release``, ``status: active``; the subscription's ``schedule`` is the schedule's id
  (expandable). A subscription that already has a schedule, or has ended, is refused (400), as
  are phases, ``start_date`` or ``customer`` next to ``from_subscription``.
* ``GET /v1/subscription_schedules/{id}`` (404 ``resource_missing`` for an unknown id),
  ``GET /v1/subscription_schedules`` (``customer``, ``subscription``).
* ``POST /v1/subscription_schedules/{id}``: ``phases`` (``items[0][price]``, ``start_date``,
  ``end_date`` or ``duration[interval|interval_count]`` — neither: one interval of the phase's
  price —, ``proration_behavior``, ``metadata``) replacing the phases (past phases may be left
  out; the current phase keeps its start: changing it is a 400), ``end_behavior``
  (``release``/``cancel``), ``proration_behavior``, ``metadata``. Phases follow each other (a
  ``start_date`` must be the previous ``end_date``). A new price in the *current* phase is
  applied to the subscription now, as an item update with that ``proration_behavior``.
  ``iterations`` (removed by API version 2025-09-30.clover) is an unknown parameter.
* At the end of a phase — the renewal helper ``/_config/subscriptions/{id}/renew`` reaching its
  ``end_date`` — the subscription takes the next phase's price *before* its renewal is billed (so
  a yearly → monthly schedule's renewal charges the monthly price for a one-month period) and
  ``current_phase`` moves on; after the last phase, ``end_behavior=release`` releases the
  schedule (the subscription renews as it is) and ``cancel`` ends the subscription (the
  schedule is ``completed``).
* ``POST .../release`` (``preserve_cancel_date``): ``released``, ``released_at``,
  ``released_subscription``, ``subscription: null``, the subscription's ``schedule`` null;
  ``POST .../cancel`` (``invoice_now``, ``prorate``): ``canceled`` and the subscription canceled
  now. Either on a schedule that is not ``active``/``not_started`` is a 400. Canceling the
  subscription (``DELETE``) cancels its schedule.
* Events ``subscription_schedule.created/updated/released/canceled/completed`` (``updated`` with
  ``previous_attributes``) and ``customer.subscription.updated`` whenever ``schedule`` (or the
  price) of the subscription changes. A subscription with a schedule refuses
  ``cancel_at_period_end`` / ``cancel_at`` with Stripe's sentence ("The subscription is managed by
  the subscription schedule `sub_sched_...`, and updating any cancelation behavior directly is
  not allowed. Please update the schedule instead.", in ``subscriptions.py``).

* Phase ``discounts``: a schedule made from a subscription carries the subscription's discounts
  in its first phase (``[{"discount": "di_...", ...}]``). Setting phases replaces them, as at
  Stripe: a phase without ``discounts`` has none, so the subscription loses its discount when
  that phase is current (at once for the first phase, at the renewal for a later one).
  Offline a phase can only keep discounts of the subscription (``discounts[][discount]``);
  coupons and promotion codes in phases are refused with a sentence.
* ``default_settings[default_payment_method]`` (a card of the customer): when the next phase
  starts the subscription's ``default_payment_method`` becomes it, and the renewal charges it.

Not reproduced: schedules that create their subscription (``customer`` + ``phases`` +
``start_date``; refused with a sentence), more than one item per phase, coupons and promotion
codes in phases, trials, ``add_invoice_items``, ``default_settings`` other than
``default_payment_method`` (echoed as defaults), ``billing_mode`` ``flexible``, test clocks
(time moves with the renewal helper only).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from localstripe import resources as R

from ..errors import invalid_request
from . import cards, coupons
from . import subscriptions as subs
from .events import emit
from .export import unknown_parameter

ACTIVE = ("active", "not_started")
END_BEHAVIORS = ("release", "cancel")
PHASE_PARAMS = (
    "items",
    "start_date",
    "end_date",
    "duration",
    "proration_behavior",
    "metadata",
    "currency",
    "description",
    "default_payment_method",
    "collection_method",
    "discounts",
)
DURATION_INTERVALS = ("day", "week", "month", "year")

PHASE_DEFAULTS: dict[str, Any] = {
    "add_invoice_items": [],
    "application_fee_percent": None,
    "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
    "billing_cycle_anchor": None,
    "billing_thresholds": None,
    "collection_method": None,
    "default_payment_method": None,
    "default_tax_rates": [],
    "description": None,
    "discounts": [],
    "invoice_settings": None,
    "metadata": {},
    "on_behalf_of": None,
    "transfer_data": None,
    "trial": None,
    "trial_end": None,
}


class SubscriptionSchedule(R.StripeObject):
    object = "subscription_schedule"
    _id_prefix = "sub_sched_"

    def __init__(self, from_subscription=None, metadata=None, **kwargs):
        for name in ("phases", "start_date", "customer", "end_behavior", "default_settings"):
            if name in kwargs and from_subscription is not None:
                raise invalid_request(
                    f"You cannot set `{name}` if `from_subscription` is set.", param=name
                )
        kwargs.pop("billing_mode", None)
        if from_subscription is None:
            raise invalid_request(
                "The stand-in only makes schedules from an existing subscription: pass "
                "from_subscription.",
                param="from_subscription",
            )
        unknown_parameter(kwargs)
        if not isinstance(from_subscription, str):
            raise invalid_request("Invalid string", param="from_subscription")
        sub = R.Subscription._api_retrieve(from_subscription)
        if sub.status in subs.ENDED:
            raise invalid_request(
                f"You cannot migrate a subscription in `{sub.status}` status to a schedule.",
                param="from_subscription",
            )
        if getattr(sub, "schedule", None):
            raise invalid_request(
                "You cannot migrate a subscription that is already attached to a schedule: "
                f"`{sub.schedule}`.",
                param="from_subscription",
            )
        if metadata is not None and not isinstance(metadata, dict):
            raise invalid_request("Invalid object", param="metadata")
        super().__init__()
        item = sub.items._list[0]
        period = item._current_period()
        self.customer = sub.customer
        self.subscription = sub.id
        self.metadata = dict(metadata or {})
        self.end_behavior = "release"
        self.canceled_at = None
        self.completed_at = None
        self.released_at = None
        self.released_subscription = None
        self._status = "active"
        self._default_pm = None
        self._phases = [
            _phase(
                item.plan,
                period["start"],
                period["end"],
                "create_prorations",
                discounts=[d.id for d in coupons.sub_discounts(sub)],
            )
        ]
        self._index = 0
        emit("subscription_schedule.created", self)
        with subs.changes(sub):
            sub.schedule = self.id

    @property
    def status(self) -> str:
        return self._status

    @property
    def phases(self) -> list:
        return [_phase_export(p) for p in self._phases]

    @property
    def current_phase(self):
        if self._status not in ACTIVE or self._index >= len(self._phases):
            return None
        phase = self._phases[self._index]
        return {"end_date": phase["end_date"], "start_date": phase["start_date"]}


def _phase(
    plan, start: int, end: int, proration_behavior: str, metadata=None, discounts=None
) -> dict:
    return {
        "discounts": list(discounts or []),
        "plan": plan.id,
        "start_date": start,
        "end_date": end,
        "proration_behavior": proration_behavior,
        "metadata": dict(metadata or {}),
        "currency": plan.currency,
    }


def _phase_export(phase: dict) -> dict:
    out = dict(PHASE_DEFAULTS)
    out.update(
        {
            "currency": phase["currency"],
            "discounts": [
                {"coupon": None, "discount": discount, "promotion_code": None}
                for discount in phase.get("discounts", [])
            ],
            "end_date": phase["end_date"],
            "items": [
                {
                    "billing_thresholds": None,
                    "discounts": [],
                    "metadata": {},
                    "plan": phase["plan"],
                    "price": phase["plan"],
                    "quantity": 1,
                    "tax_rates": [],
                }
            ],
            "metadata": dict(phase["metadata"]),
            "proration_behavior": phase["proration_behavior"],
            "start_date": phase["start_date"],
        }
    )
    return out


def _schedule_shape(self, obj):
    obj.pop("from_subscription", None)
    obj["application"] = None
    obj["billing_mode"] = {"flexible": None, "type": "classic", "updated_at": None}
    obj["customer_account"] = None
    obj["default_settings"] = {
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": "automatic",
        "billing_thresholds": None,
        "collection_method": "charge_automatically",
        "default_payment_method": getattr(self, "_default_pm", None),
        "description": None,
        "invoice_settings": {
            "account_tax_ids": None,
            "days_until_due": None,
            "issuer": {"type": "self"},
        },
        "on_behalf_of": None,
        "transfer_data": None,
    }
    obj["test_clock"] = None
    return obj


@contextlib.contextmanager
def _updated(schedule):
    """One ``subscription_schedule.updated`` (with ``previous_attributes``) for the block."""
    before = schedule._export()
    yield
    after = schedule._export()
    previous = {k: v for k, v in before.items() if after.get(k) != v}
    if previous:
        emit("subscription_schedule.updated", schedule, previous_attributes=previous)


def _live(schedule, verb: str) -> None:
    if schedule.status not in ACTIVE:
        raise invalid_request(
            f"You cannot {verb} a subscription schedule that is currently in the "
            f"`{schedule.status}` status. It must be in `not_started` or `active`."
        )


def _int(value, param: str) -> int:
    converted = R.try_convert_to_int(value)
    if not isinstance(converted, int) or isinstance(converted, bool):
        raise invalid_request("Invalid integer: " + str(value), param=param)
    return converted


def _phase_price(phase: dict, param: str):
    items = phase.get("items")
    if not isinstance(items, list) or not items:
        raise invalid_request("Missing required param: items.", param=f"{param}[items]")
    translated = subs._translate_items(items, param=f"{param}[items]")
    if len(translated) != 1 or not translated[0].get("plan"):
        raise invalid_request(
            "The stand-in keeps one price per phase: pass exactly items[0][price].",
            param=f"{param}[items]",
        )
    quantity = R.try_convert_to_int(translated[0].get("quantity", 1))
    if quantity != 1:
        raise invalid_request(
            "Quantities other than 1 are not reproduced offline.",
            param=f"{param}[items][0][quantity]",
        )
    return R.Plan._api_retrieve(translated[0]["plan"])


def _phase_end(phase: dict, plan, start: int, param: str) -> int:
    if phase.get("end_date") is not None and phase.get("duration") is not None:
        raise invalid_request(
            "You may only specify one of these parameters: duration, end_date.", param=param
        )
    if phase.get("end_date") is not None:
        end = _int(phase["end_date"], f"{param}[end_date]")
    elif phase.get("duration") is not None:
        duration = phase["duration"]
        if not isinstance(duration, dict) or duration.get("interval") not in DURATION_INTERVALS:
            raise invalid_request(
                "Invalid duration: interval must be one of day, week, month, year.",
                param=f"{param}[duration][interval]",
            )
        count = _int(duration.get("interval_count", 1), f"{param}[duration][interval_count]")
        if count < 1:
            raise invalid_request(
                "interval_count must be at least 1.", param=f"{param}[duration][interval_count]"
            )
        step = type("Step", (), {"interval": duration["interval"], "interval_count": count})
        end = subs._add_interval(start, step)
    else:  # Stripe: a phase without an end lasts one interval of its price
        end = subs._add_interval(start, plan)
    if end <= start:
        raise invalid_request(
            "The phase's end_date must be after its start_date.", param=f"{param}[end_date]"
        )
    return end


def _phase_discounts(phase: dict, kept: set[str], param: str) -> list[str]:
    """The discount ids of a phase: only the subscription's own (``discounts[][discount]``)."""
    discounts = phase.get("discounts")
    if discounts in (None, ""):
        return []
    if not isinstance(discounts, list):
        raise invalid_request("Invalid array", param=f"{param}[discounts]")
    ids = []
    for i, entry in enumerate(discounts):
        where = f"{param}[discounts][{i}]"
        if not isinstance(entry, dict) or set(entry) != {"discount"}:
            raise invalid_request(
                "Offline a phase can only keep discounts of the subscription "
                "(discounts[][discount]); coupons and promotion codes in phases are not "
                "reproduced.",
                param=where,
            )
        if entry["discount"] not in kept:
            raise invalid_request(
                f"No such discount on this subscription: '{entry['discount']}'",
                param=f"{where}[discount]",
            )
        ids.append(entry["discount"])
    return ids


def _parse_phases(schedule, phases) -> list[dict]:
    if not isinstance(phases, list) or not phases:
        raise invalid_request("Invalid array", param="phases")
    sub = R.Subscription._api_retrieve(schedule.subscription)
    kept = {d.id for d in coupons.sub_discounts(sub)}
    current = schedule._phases[schedule._index] if schedule._index < len(schedule._phases) else None
    out: list[dict] = []
    for i, phase in enumerate(phases):
        param = f"phases[{i}]"
        if not isinstance(phase, dict):
            raise invalid_request("Invalid object", param=param)
        unknown_parameter({f"{param}[{k}]": v for k, v in phase.items() if k not in PHASE_PARAMS})
        plan = _phase_price(phase, param)
        if i == 0:
            if phase.get("start_date") is None:
                if current is None:
                    raise invalid_request(
                        "Missing required param: phases[0][start_date].",
                        param="phases[0][start_date]",
                    )
                start = current["start_date"]
            else:
                start = _int(phase["start_date"], f"{param}[start_date]")
            if current is not None and start != current["start_date"]:
                raise invalid_request(
                    "You can not modify the start date of the current phase.",
                    param="phases[0][start_date]",
                )
        else:
            start = out[-1]["end_date"]
            if phase.get("start_date") is not None:
                given = _int(phase["start_date"], f"{param}[start_date]")
                if given != start:
                    raise invalid_request(
                        "Phases must be contiguous: the start_date of a phase must be the "
                        "end_date of the phase before.",
                        param=f"{param}[start_date]",
                    )
        behavior = phase.get("proration_behavior") or "create_prorations"
        if behavior not in ("always_invoice", "create_prorations", "none"):
            raise invalid_request(
                "Invalid proration_behavior: must be one of always_invoice, "
                "create_prorations, none",
                param=f"{param}[proration_behavior]",
            )
        metadata = phase.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise invalid_request("Invalid object", param=f"{param}[metadata]")
        end = _phase_end(phase, plan, start, param)
        discounts = _phase_discounts(phase, kept, param)
        out.append(_phase(plan, start, end, behavior, metadata, discounts))
    return out


def _parse_default_settings(schedule, default_settings):
    """``default_settings``: its ``default_payment_method`` (a card of the customer, or "" to
    clear) is kept; the other settings are accepted and not reproduced."""
    if default_settings is None:
        return None
    if not isinstance(default_settings, dict):
        raise invalid_request("Invalid object", param="default_settings")
    if "default_payment_method" not in default_settings:
        return None
    pm_id = default_settings["default_payment_method"]
    if not pm_id:
        return ""
    return cards.customer_payment_method(
        schedule.customer, pm_id, "default_settings[default_payment_method]"
    ).id


def _phase_discounts_apply(sub, discount_ids: list[str]) -> None:
    """The subscription keeps only the discounts its current phase lists."""
    wanted = set(discount_ids)
    current = coupons.sub_discounts(sub)
    if any(d.id not in wanted for d in current):
        sub._fs_discount_objs = [d for d in current if d.id in wanted]


def api_update(
    cls,
    id,
    phases=None,
    end_behavior=None,
    proration_behavior=None,
    metadata=None,
    default_settings=None,
    **kwargs,
):
    """``POST /v1/subscription_schedules/{id}``."""
    from . import plan_change

    unknown_parameter(kwargs)
    schedule = cls._api_retrieve(id)
    _live(schedule, "update")
    if end_behavior is not None and end_behavior not in END_BEHAVIORS:
        raise invalid_request(
            "Invalid end_behavior: must be one of " + ", ".join(END_BEHAVIORS),
            param="end_behavior",
        )
    if metadata is not None and not isinstance(metadata, dict) and metadata != "":
        raise invalid_request("Invalid object", param="metadata")
    new_phases = _parse_phases(schedule, phases) if phases is not None else None
    default_pm = _parse_default_settings(schedule, default_settings)
    sub = R.Subscription._api_retrieve(schedule.subscription)
    change = None
    if new_phases is not None:
        # A new price in the current phase changes the subscription now (an item update).
        item = sub.items._list[0]
        change = plan_change.compute(
            sub,
            [{"id": item.id, "price": new_phases[0]["plan"]}],
            proration_behavior or new_phases[0]["proration_behavior"],
        )
    with _updated(schedule):
        if new_phases is not None:
            schedule._phases = new_phases
            schedule._index = 0
        if end_behavior is not None:
            schedule.end_behavior = end_behavior
        if default_pm is not None:
            schedule._default_pm = default_pm or None
        if isinstance(metadata, dict):
            for key, value in metadata.items():
                if value == "":
                    schedule.metadata.pop(key, None)
                else:
                    schedule.metadata[key] = value
        elif metadata == "":
            schedule.metadata = {}
    if change is not None:
        with subs.changes(sub):
            plan_change.apply_change(change, "allow_incomplete")
    if new_phases is not None:  # the current phase's discounts hold now
        with subs.changes(sub):
            _phase_discounts_apply(sub, new_phases[0]["discounts"])
    return schedule


def _detach(schedule, sub) -> None:
    if sub is not None and getattr(sub, "schedule", None) == schedule.id:
        with subs.changes(sub):
            sub.schedule = None


def release(schedule, sub) -> None:
    """The schedule lets go: the subscription goes on as it is, with no schedule."""
    schedule._status = "released"
    schedule.released_at = int(time.time())
    schedule.released_subscription = schedule.subscription
    schedule.subscription = None
    emit("subscription_schedule.released", schedule)
    _detach(schedule, sub)


def api_release(cls, id, preserve_cancel_date=None, **kwargs):
    """``POST /v1/subscription_schedules/{id}/release``."""
    unknown_parameter(kwargs)
    schedule = cls._api_retrieve(id)
    _live(schedule, "release")
    release(schedule, R.store.get("subscription:" + str(schedule.subscription)))
    return schedule


def api_cancel(cls, id, invoice_now=None, prorate=None, **kwargs):
    """``POST /v1/subscription_schedules/{id}/cancel``: the schedule and its subscription end."""
    unknown_parameter(kwargs)
    schedule = cls._api_retrieve(id)
    _live(schedule, "cancel")
    sub = R.store.get("subscription:" + str(schedule.subscription))
    _cancel(schedule)
    if sub is not None and sub.status not in subs.ENDED:
        sub.canceled_at = int(time.time())
        subs._end(sub)
    return schedule


def _cancel(schedule) -> None:
    schedule._status = "canceled"
    schedule.canceled_at = int(time.time())
    emit("subscription_schedule.canceled", schedule)


def on_subscription_canceled(sub) -> None:
    """The subscription was canceled (``DELETE``): its schedule is canceled with it."""
    schedule = _schedule_of(sub)
    if schedule is not None and schedule.status in ACTIVE:
        _cancel(schedule)


def _schedule_of(sub):
    schedule_id = getattr(sub, "schedule", None)
    return R.store.get("subscription_schedule:" + schedule_id) if schedule_id else None


def plan_for_renewal(sub):
    """The price the subscription's next renewal bills if its schedule changes it, else None."""
    schedule = _schedule_of(sub)
    if schedule is None or schedule.status not in ACTIVE:
        return None
    end = sub.items._list[0]._current_period()["end"]
    nxt = schedule._index + 1
    phase = schedule._phases[schedule._index] if schedule._index < len(schedule._phases) else None
    if phase is not None and phase["end_date"] <= end and nxt < len(schedule._phases):
        return R.Plan._api_retrieve(schedule._phases[nxt]["plan"])
    return None


def on_period_end(sub) -> bool:
    """The subscription's period ends (a renewal): move the schedule to its next phase.

    Called before the new period starts, so the subscription's item takes the next phase's
    price first. Returns True if the schedule ended the subscription (``end_behavior=cancel``).
    """
    schedule = _schedule_of(sub)
    if schedule is None or schedule.status not in ACTIVE:
        return False
    end = sub.items._list[0]._current_period()["end"]
    phase = schedule._phases[schedule._index] if schedule._index < len(schedule._phases) else None
    if phase is None or phase["end_date"] > end:
        return False  # the phase goes on past this renewal
    if schedule._index + 1 < len(schedule._phases):
        with _updated(schedule):
            schedule._index += 1
        phase = schedule._phases[schedule._index]
        sub.items._list[0].plan = R.Plan._api_retrieve(phase["plan"])
        _phase_discounts_apply(sub, phase["discounts"])
        if getattr(schedule, "_default_pm", None):
            sub.default_payment_method = schedule._default_pm
        return False
    if schedule.end_behavior == "cancel":
        schedule._status = "completed"
        schedule.completed_at = int(time.time())
        emit("subscription_schedule.completed", schedule)
        sub.canceled_at = int(time.time())
        subs._end(sub)
        return True
    release(schedule, sub)
    return False


def api_list_all(
    cls, url, customer=None, subscription=None, limit=None, starting_after=None, **kwargs
):
    kwargs.pop("scheduled", None)
    kwargs.pop("canceled_at", None)
    kwargs.pop("completed_at", None)
    kwargs.pop("released_at", None)
    li = R.StripeObject._api_list_all.__func__(
        cls, url, limit=limit, starting_after=starting_after, **kwargs
    )
    if customer is not None:
        li._list = [s for s in li._list if s.customer == customer]
    if subscription is not None:
        li._list = [
            s for s in li._list if subscription in (s.subscription, s.released_subscription)
        ]
    return li


def api_delete(cls, id):
    raise invalid_request(
        "Unrecognized request URL (DELETE: /v1/subscription_schedules/"
        f"{id}). Please see https://stripe.com/docs.",
        status=404,
    )


def api_release_route(**data):
    """``POST /v1/subscription_schedules/{id}/release`` (the route's handler)."""
    return SubscriptionSchedule._api_release(**data)


def api_cancel_route(**data):
    """``POST /v1/subscription_schedules/{id}/cancel`` (the route's handler)."""
    return SubscriptionSchedule._api_cancel(**data)


def apply() -> None:
    SubscriptionSchedule._fs_shape = _schedule_shape
    SubscriptionSchedule._api_update = classmethod(api_update)
    SubscriptionSchedule._api_list_all = classmethod(api_list_all)
    SubscriptionSchedule._api_delete = classmethod(api_delete)
    SubscriptionSchedule._api_release = classmethod(api_release)
    SubscriptionSchedule._api_cancel = classmethod(api_cancel)
