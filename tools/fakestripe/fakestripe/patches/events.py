"""Events and webhook delivery the way Stripe does them.

Reproduces (localstripe gaps in brackets):

* ``api_version`` is stripe-python's pinned version (``stripe.api_version``, e.g.
  ``2026-08-26.dahlia``) [was ``2017-08-15``]; ``object``, ``pending_webhooks``,
  ``request: {id, idempotency_key}`` and ``data.previous_attributes`` on ``*.updated`` events.
* ``GET /v1/events`` newest first, with ``type``, ``types[]`` and ``created`` filters.
* Delivery: asynchronous (a short delay after the change), **in creation order** per endpoint
  [was: concurrent, out of order, one attempt], retried with back-off on connection errors and
  non-2xx answers, signed ``Stripe-Signature: t=<send time>,v1=<hex HMAC-SHA256 of "t.payload">``
  with the endpoint's secret, as ``stripe.Webhook.construct_event`` expects. The retry
  schedule (:data:`RETRY_DELAYS`, 0.5/1/2/4 s) is configurable: ``FAKESTRIPE_WEBHOOK_RETRIES``
  for every endpoint, ``retries`` per registration — Stripe itself retries for up to three
  days, which ``make chaos`` models with minutes while the app is down.
* Targets: endpoints registered with ``POST /_config/webhooks/<name>`` (persisted in the state
  dir, so they survive a restart) and ``/v1/webhook_endpoints`` objects (``enabled_events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localstripe import resources as R
from localstripe import webhooks as W

from .. import context, state
from ..errors import invalid_request
from ..signing import sign
from .export import unknown_parameter

try:  # the version stripe-python 15.x sends as Stripe-Version
    from stripe._api_version import _ApiVersion

    API_VERSION = _ApiVersion.CURRENT
except ImportError:  # pragma: no cover
    import stripe

    API_VERSION = stripe.api_version

log = logging.getLogger("fakestripe.webhooks")

#: seconds between a change and its first delivery attempt (Stripe is asynchronous too)
DELIVERY_DELAY = float(os.environ.get("FAKESTRIPE_WEBHOOK_DELAY", "0.1"))
#: A retry schedule has at most this many retries, each at most Stripe's three days away.
MAX_RETRIES, MAX_RETRY_DELAY = 50, 3 * 24 * 3600.0


def retry_delays(value: str | list | tuple) -> tuple[float, ...]:
    """A retry schedule, seconds after each failed attempt: ``"1,2,4"`` or ``[1, 2, 4]``;
    ValueError (with a sentence) for anything else."""
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        delays = tuple(float(item) for item in items if str(item).strip())
    except (TypeError, ValueError):
        raise ValueError("retries must be numbers of seconds, e.g. [1, 2, 4]") from None
    if len(delays) > MAX_RETRIES or not all(0 <= d <= MAX_RETRY_DELAY for d in delays):
        raise ValueError(
            f"retries: at most {MAX_RETRIES} delays, each 0 to {MAX_RETRY_DELAY:.0f} seconds"
        )
    return delays


#: Seconds between a failed delivery attempt and the next one, for every endpoint without a
#: schedule of its own (``FAKESTRIPE_WEBHOOK_RETRIES="1,2,4,8,15,30,30"`` for a longer one).
RETRY_DELAYS = retry_delays(os.environ.get("FAKESTRIPE_WEBHOOK_RETRIES", "0.5,1,2,4"))
WEBHOOKS_FILE = "webhooks.json"
MAX_LOG = 2000


@dataclass
class Target:
    name: str
    url: str
    secret: str
    events: list[str] | None = None
    #: This endpoint's retry schedule; None: :data:`RETRY_DELAYS`.
    retries: tuple[float, ...] | None = None
    queue: asyncio.Queue | None = field(default=None, repr=False, compare=False)
    task: asyncio.Task | None = field(default=None, repr=False, compare=False)

    def wants(self, event_type: str) -> bool:
        return self.events is None or "*" in self.events or event_type in self.events

    def public(self) -> dict:
        retries = list(self.retries) if self.retries is not None else None
        return {"name": self.name, "url": self.url, "events": self.events, "retries": retries}


class Dispatcher:
    """One ordered queue + worker per endpoint, so a dead endpoint only delays itself."""

    def __init__(self) -> None:
        self.targets: dict[str, Target] = {}
        self.log: list[dict] = []

    # -- configuration ---------------------------------------------------------------------
    def _file(self) -> str:
        return os.path.join(state.state_dir(), WEBHOOKS_FILE)

    def load(self) -> None:
        try:
            with open(self._file()) as f:
                saved = json.load(f)
        except (FileNotFoundError, ValueError):
            return
        for item in saved:
            retries = item.get("retries")
            schedule = tuple(retries) if retries is not None else None
            self.register(
                item["name"], item["url"], item["secret"], item.get("events"), False, schedule
            )

    def save(self) -> None:
        data = [
            {**t.public(), "secret": t.secret}
            for t in self.targets.values()
            if not t.name.startswith("we_")
        ]
        with open(self._file(), "w") as f:
            json.dump(data, f)

    def register(self, name, url, secret, events=None, save=True, retries=None) -> Target:
        old = self.targets.pop(name, None)
        if old is not None and old.task is not None:
            old.task.cancel()
        target = Target(name=name, url=url, secret=secret, events=events, retries=retries)
        self.targets[name] = target
        if save:
            self.save()
        return target

    def unregister(self, name) -> bool:
        target = self.targets.pop(name, None)
        if target is not None and target.task is not None:
            target.task.cancel()
        self.save()
        return target is not None

    def _all_targets(self) -> list[Target]:
        targets = [t for t in self.targets.values() if not t.name.startswith("we_")]
        live = set()
        for key, obj in list(R.store.items()):
            if key.startswith("webhook_endpoint:") and getattr(obj, "status", "") == "enabled":
                targets.append(self._endpoint_target(obj))
                live.add(obj.id)
        for name in [n for n in self.targets if n.startswith("we_") and n not in live]:
            stale = self.targets.pop(name)  # endpoint deleted or disabled
            if stale.task is not None:
                stale.task.cancel()
        return targets

    def _endpoint_target(self, endpoint) -> Target:
        target = self.targets.get(endpoint.id)
        if target is None or target.url != endpoint.url or target.events != endpoint.enabled_events:
            if target is not None and target.task is not None:
                target.task.cancel()
            target = Target(endpoint.id, endpoint.url, endpoint._secret, endpoint.enabled_events)
            self.targets[endpoint.id] = target
        return target

    # -- delivery --------------------------------------------------------------------------
    def matching(self, event_type: str) -> list[Target]:
        return [t for t in self._all_targets() if t.wants(event_type)]

    def schedule(self, event) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no server running (unit use): nothing to deliver to
        for target in self.matching(event.type):
            if target.queue is None or target.task is None or target.task.done():
                target.queue = asyncio.Queue()
                target.task = asyncio.ensure_future(self._worker(target))
            target.queue.put_nowait((event.id, time.monotonic()))

    async def _worker(self, target: Target) -> None:
        import aiohttp

        queue = target.queue
        assert queue is not None
        async with aiohttp.ClientSession() as session:
            while True:
                event_id, queued_at = await queue.get()
                await asyncio.sleep(max(0.0, queued_at + DELIVERY_DELAY - time.monotonic()))
                event = R.store.get("event:" + event_id)
                if event is None:  # store flushed meanwhile
                    continue
                await self._deliver(session, target, event)

    async def _deliver(self, session, target: Target, event) -> None:
        import aiohttp

        payload = json.dumps(event._export(), indent=2, sort_keys=True).encode()
        entry = {
            "event": event.id,
            "type": event.type,
            "target": target.name,
            "url": target.url,
            "status": None,
            "attempts": 0,
            "delivered": False,
        }
        self.log.append(entry)
        del self.log[:-MAX_LOG]
        schedule = RETRY_DELAYS if target.retries is None else target.retries
        for delay in (0.0, *schedule):
            if delay:
                await asyncio.sleep(delay)
            entry["attempts"] += 1
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": sign(payload, target.secret),
            }
            try:
                async with session.post(
                    target.url,
                    data=payload,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=30),
                ) as r:
                    entry["status"] = r.status
                    if 200 <= r.status < 300:
                        entry["delivered"] = True
                        break
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                entry["status"] = f"error: {e.__class__.__name__}"
        log.info("webhook %s %s -> %s: %s", event.type, event.id, target.url, entry["status"])
        if entry["delivered"] and getattr(event, "pending_webhooks", 0):
            event.pending_webhooks -= 1
            state.mark_dirty()

    def deliveries(self) -> list[dict]:
        return [dict(e) for e in self.log]

    def config(self) -> list[dict]:
        return [t.public() for t in self.targets.values() if not t.name.startswith("we_")]

    async def close(self) -> None:
        for target in self.targets.values():
            if target.task is not None:
                target.task.cancel()
                with contextlib.suppress(BaseException):
                    await target.task


dispatcher = Dispatcher()


def schedule_webhook(event) -> None:
    dispatcher.schedule(event)


def emit(event_type: str, obj, previous_attributes: dict | None = None):
    """Create (and queue for delivery) one event about ``obj``."""
    event = R.Event(event_type, obj, previous_attributes=previous_attributes)
    schedule_webhook(event)
    return event


def event_init(self, type, data, previous_attributes=None):
    R.StripeObject.__init__(self)
    self.type = type
    self.data = {"object": data._export()}
    if previous_attributes is not None:
        self.data["previous_attributes"] = previous_attributes
    self.api_version = API_VERSION
    self.pending_webhooks = len(dispatcher.matching(type))
    self.request = {
        "id": context.request_id.get(),
        "idempotency_key": context.idempotency_key.get(),
    }


def event_list_all(
    cls,
    url,
    type=None,
    types=None,
    created=None,
    limit=None,
    starting_after=None,
    ending_before=None,
    delivery_success=None,
    **kwargs,
):
    unknown_parameter(kwargs)
    if isinstance(types, str):
        types = [types]
    if types is not None and type is not None:
        raise invalid_request("You may only specify one of these parameters: type, types.")
    li = R.StripeObject._api_list_all.__func__(cls, url, limit=limit, starting_after=starting_after)
    filters: list[Callable[[Any], bool]] = []
    if type is not None:
        if "*" in type:
            prefix = type.split("*")[0]
            filters.append(lambda e: e.type.startswith(prefix))
        else:
            filters.append(lambda e: e.type == type)
    if types is not None:
        filters.append(lambda e: e.type in types)
    if isinstance(created, dict):
        ops = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
        }
        for op, value in created.items():
            if op not in ops:
                raise invalid_request(f"Received unknown parameter: created[{op}]")
            filters.append(_created_filter(ops[op], R.try_convert_to_int(value)))
    elif created is not None:
        bound = R.try_convert_to_int(created)
        filters.append(lambda e: e.created == bound)
    li._list = [e for e in li._list if all(f(e) for f in filters)]
    return li


def _created_filter(compare, bound) -> Callable[[Any], bool]:
    return lambda event: compare(event.created, bound)


def _event_shape(self, obj):
    obj["object"] = "event"
    obj.setdefault("context", None)
    return obj


def apply() -> None:
    R.Event.__init__ = event_init
    R.Event._api_list_all = classmethod(event_list_all)
    R.Event._fs_shape = _event_shape
    R.schedule_webhook = schedule_webhook
    W.schedule_webhook = schedule_webhook
    W.register_webhook = lambda id, url, secret, events: dispatcher.register(
        id, url, secret, events
    )
