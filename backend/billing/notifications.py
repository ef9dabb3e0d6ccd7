"""Billing's transactional e-mails: which Stripe event asks for which mail, each sent once.

==========================  ===================================  ===============================
kind                        event                                sent when
==========================  ===================================  ===============================
``receipt``                 ``invoice.paid``                     ``amount_paid`` > 0
``payment_failed``          ``invoice.payment_failed``           a renewal's charge failed (not
                                                                 only for want of 3-D Secure)
``action_required``         ``invoice.payment_action_required``  a renewal's charge awaits 3-D
                                                                 Secure
``cancellation_scheduled``  ``customer.subscription.updated``    ``cancel_at_period_end`` became
                                                                 true (``previous_attributes``)
``subscription_ended``      ``customer.subscription.deleted``    a subscription that was paid
                                                                 for (or was in its trial) ended
``trial_ending``            ``...subscription.trial_will_end``   still ``trialing``, not
                            (3 days before the trial ends)       cancelled (re-read)
==========================  ===================================  ===============================

The rules beyond the table, each a decision written down:

* **Renewals only** for ``payment_failed`` and ``action_required``: the first invoice is paid in
  the purchase page, which shows the decline or the 3-D Secure challenge at once.
* **One mail when a renewal needs authentication.** Stripe then sends both
  ``invoice.payment_action_required`` and ``invoice.payment_failed``. The payload of the
  current API carries no PaymentIntent, so the failed mail re-reads the invoice with it
  (``stripe_client.INVOICE_INTENT_EXPAND``): a PaymentIntent in ``requires_action``, or a last
  error ``authentication_required``, makes ``payment_failed`` a ``skipped`` row — the
  ``action_required`` mail asks for the one thing to do. Either mail is also skipped when the
  invoice, re-read, is no longer ``open`` (paid or voided meanwhile: nothing left to do).
* **"Premium ended" only after Premium**: a ``canceled`` subscription whose first invoice was
  never paid (a purchase given up) sends nothing; ``incomplete_expired`` neither.
* **A trial's mails say "trial".** The trial reminder (``trial_ending``) re-reads the
  subscription: it says the end date, what will then be charged (the price, or Stripe's preview
  of that invoice when a discount applies) and the card that will pay it (or that there is none
  yet); a trial already cancelled, or already over, sends nothing (the cancellation mail said
  it). A cancellation scheduled in the trial, and the end of a trial that was never charged
  (cancelled, or no card at its end), say so instead of "charged again" or "Premium ended".
* **To** the e-mail address of the user whose billing account has the event's customer (after
  the event's effect, so a customer adopted by it counts). No account: no row; no address: a
  ``skipped`` row.

A mail's life (each step one UPDATE conditioned on the state it leaves)::

    (event processed) --event_emails_create--> pending | skipped
    pending, due --email_claim--> sending --email_sent----> sent
                                          --email_release-> pending  (SMTP failed: backoff)
                                          --email_failed--> failed   (out of attempts, refused)
    sending, by the same task --email_claim--> sending  (redelivered: its worker died)
    sending, its process gone --emails_orphans--> pending, enqueued again  (sweep, worker start)
    pending, its task lost --emails_due--> pending, enqueued again (the sweep)
    sending, claimed too long ago --emails_due--> failed  (holder nobody can judge: maybe sent)
    failed --emails_retry--> pending  (the admin's Retry)

The row is unique per (event, kind), so a redelivered event, a replayed one and a second
drain find the row made by the first; the claim lets one task send it, so a duplicated or
redelivered task finds it ``sending`` or ``sent`` and does nothing. A worker that dies after the
SMTP server took the message but before ``sent`` is stored is the one case that cannot be
told apart from one that died before.

**A holder known to be dead: the mail is sent again.** A claim records its holder
(:mod:`billing.holders`): the task id (only when :func:`holders.task_holder` says no two
deliveries of the task can overlap) and the process. The redelivery of the same task id (its
worker died; a retry after the database went away) takes its ``sending`` row back at once and
sends; a row whose process is gone on this host goes back to ``pending`` and is enqueued again
by the sweep and by a worker that starts (:func:`emails_orphans`). Resending, not failing, is
the choice because the death almost always comes before or during the SMTP dialogue (the mail
was not taken), while the window after the relay's "250" and before ``sent`` is stored is one
round trip to the database; and a second copy is the same message to the receiving side: the
Message-ID is derived from the event and kind (:func:`email_deliver`), so mail stores and
clients that dedupe by Message-ID show it once. A payment-failed mail lost is worse than a
receipt shown twice. Each take-back counts an attempt, so a mail that kills its worker every
time ends ``failed`` after ``BILLING_EMAIL_MAX_ATTEMPTS``.

**A holder nobody can judge** (another host or container, no task id) keeps the old bound:
``sending`` longer than ``BILLING_EMAIL_STALE_AFTER`` becomes ``failed`` with a sentence saying
so, and only the admin's Retry sends it again.

The Celery tasks that drive this are in :mod:`billing.tasks`; the admin in :mod:`billing.admin`.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

import stripe
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from . import stripe_client
from .holders import Holder, current_process, process_gone, scope
from .models import BillingAccount, BillingEmail, WebhookEvent
from .stripe_objects import field as stripe_field
from .stripe_objects import object_id, timestamp

logger = logging.getLogger(__name__)

Kind = BillingEmail.Kind
Status = BillingEmail.Status

SITE_NAME = "Open SEC Data"
#: A task may claim a mail this much before its ``next_attempt_at`` (the broker's countdown
#: and the database's clock need not agree to the millisecond).
CLAIM_EARLY = timedelta(seconds=5)
#: Stripe errors that are worth retrying the event for (Stripe unreachable, rate-limited, 5xx);
#: any other error of the re-reads below means "cannot tell", and the mail is sent.
STRIPE_TRANSIENT = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)
#: Currencies without minor units (amounts are whole units at Stripe).
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
     "xaf", "xof", "xpf"}
)  # fmt: skip
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


class EmailNotConfigured(smtplib.SMTPException):
    """SMTP is the backend but ``EMAIL_HOST`` is empty: waited on and retried like an outage."""


#: What a failed delivery raises: the relay unreachable or refusing (retried with backoff).
SEND_ERRORS: tuple[type[BaseException], ...] = (OSError, smtplib.SMTPException)


# --- Writing out amounts, dates and links ---------------------------------------------------


def money_format(*, amount: int, currency: str) -> str:
    """``2000, "usd"`` → ``"$20.00"``; other currencies ``"20.00 CHF"``; minor units as Stripe
    counts them (none for yen and the like)."""
    code = (currency or "usd").lower()
    value = f"{amount:,}" if code in ZERO_DECIMAL else f"{amount / 100:,.2f}"
    symbol = SYMBOLS.get(code)
    return f"{symbol}{value}" if symbol else f"{value} {code.upper()}"


def date_format(value: datetime | None) -> str:
    """``"December 1, 2026"`` (UTC, as Stripe's dashboard shows dates); ``""`` for None."""
    if value is None:
        return ""
    day = value.astimezone(UTC) if timezone.is_aware(value) else value
    return f"{day:%B} {day.day}, {day.year}"


def site_link(path: str) -> str:
    """An absolute link to a page of the web app (``SITE_URL`` + ``path``)."""
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _web_url(value: Any) -> str:
    """``value`` if it is an http(s) URL (Stripe's hosted pages), else ``""``: nothing else
    becomes a link in a mail."""
    text = str(value or "")
    return text if text.startswith(("https://", "http://")) else ""


# --- Which mails an event asks for ------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One mail an event asks for: its kind, whose customer, the facts it shows, and the reason
    it is not sent (``skip``), if any."""

    kind: str
    customer_id: str
    facts: dict[str, str] = field(default_factory=dict)
    skip: str = ""


def _amount(obj: Mapping[str, Any], key: str) -> str:
    return money_format(amount=int(obj.get(key) or 0), currency=str(obj.get("currency") or ""))


def _renewal(obj: Mapping[str, Any]) -> bool:
    """Not the first invoice of a subscription (see the module docstring, "Renewals only")."""
    return obj.get("billing_reason") != "subscription_create"


def _line_period(obj: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """The service period of an invoice's first line (the invoice's own period_start/end are
    the previous period for a renewal, at Stripe)."""
    lines = (obj.get("lines") or {}).get("data") or []
    period = (lines[0].get("period") or {}) if lines and isinstance(lines[0], Mapping) else {}
    return timestamp(period.get("start")), timestamp(period.get("end"))


def _receipt(obj: Mapping[str, Any], event: WebhookEvent) -> list[Planned]:
    if int(obj.get("amount_paid") or 0) <= 0:
        return []  # a $0 invoice (a trial, a full discount) is no payment to confirm
    paid_at = timestamp((obj.get("status_transitions") or {}).get("paid_at")) or event.created
    start, end = _line_period(obj)
    facts = {
        "amount": _amount(obj, "amount_paid"),
        "invoice_id": str(obj.get("id") or ""),
        "invoice_number": str(obj.get("number") or obj.get("id") or ""),
        "paid_on": date_format(paid_at),
        "period_start": date_format(start),
        "period_end": date_format(end),
        # Stripe's hosted invoice page (receipt and PDF); without one, the account's list.
        "invoice_url": _web_url(obj.get("hosted_invoice_url")) or site_link("/account"),
        "account_url": site_link("/account"),
    }
    return [Planned(Kind.RECEIPT, object_id(obj.get("customer")), facts)]


def _invoice_now(invoice_id: str) -> Any | None:
    """The invoice as Stripe has it now, its PaymentIntent expanded; None if Stripe cannot
    say (the mail is then sent as the event tells). A transient error propagates: the event
    is retried."""
    try:
        return stripe_client.invoice_retrieve(
            invoice_id, expand=stripe_client.INVOICE_INTENT_EXPAND
        )
    except STRIPE_TRANSIENT:
        raise
    except stripe.StripeError as exc:
        logger.warning("Invoice %s not re-read for its e-mail: %s", invoice_id, exc)
        return None


def _payment_intent(invoice: Any) -> Any | None:
    """The invoice's (default) PaymentIntent from its expanded ``payments``; None if none."""
    payments = stripe_field(stripe_field(invoice, "payments"), "data") or []
    chosen = None
    for payment in payments:
        intent = stripe_field(stripe_field(payment, "payment"), "payment_intent")
        if intent is not None and not isinstance(intent, str):
            chosen = intent
            if stripe_field(payment, "is_default"):
                break
    return chosen


def _needs_authentication(intent: Any) -> bool:
    error = stripe_field(intent, "last_payment_error")
    return stripe_field(intent, "status") == "requires_action" or (
        stripe_field(error, "code") == "authentication_required"
    )


def _payment_problem(obj: Mapping[str, Any], kind: str) -> list[Planned]:
    if not _renewal(obj):
        return []
    invoice_id = str(obj.get("id") or "")
    facts = {
        "amount": _amount(obj, "amount_due"),
        "invoice_id": invoice_id,
        "next_attempt": date_format(timestamp(obj.get("next_payment_attempt"))),
        "account_url": site_link("/account"),
        "confirm_url": site_link(f"/account/confirm-payment?invoice={quote(invoice_id)}"),
    }
    customer_id = object_id(obj.get("customer"))
    skip = ""
    invoice = _invoice_now(invoice_id) if invoice_id else None
    if invoice is not None:
        status = stripe_field(invoice, "status")
        intent = _payment_intent(invoice)
        if status != "open":
            skip = f"the invoice is {status} now: nothing left to pay"
        elif kind == Kind.PAYMENT_FAILED and intent is not None and _needs_authentication(intent):
            skip = "the charge needs authentication: the action_required mail asks for it"
    return [Planned(kind, customer_id, facts, skip)]


def _cancellation(obj: Mapping[str, Any], previous: Mapping[str, Any]) -> list[Planned]:
    became = previous.get("cancel_at_period_end") is False and obj.get("cancel_at_period_end")
    if not became:
        return []
    items = (obj.get("items") or {}).get("data") or []
    item_end = items[0].get("current_period_end") if items else None
    ends = timestamp(obj.get("cancel_at") or item_end or obj.get("current_period_end"))
    facts = {
        "ends_on": date_format(ends),
        "account_url": site_link("/account"),
        # Cancelled in the trial: nothing was ever charged, so not "charged again".
        "trial": "yes" if obj.get("status") == "trialing" else "",
    }
    return [Planned(Kind.CANCELLATION_SCHEDULED, object_id(obj.get("customer")), facts)]


#: A subscription that ended this close after its trial's end ended *with* the trial (Stripe
#: cancels at the trial's end to the second; the slack covers a stand-in's or a clock's).
TRIAL_END_SLACK = timedelta(hours=1)


def _ended_in_trial(obj: Mapping[str, Any], ended: datetime | None) -> bool:
    """The subscription ended during its trial or at its end (cancelled, or no card), so
    nothing was ever charged for it."""
    trial_end = timestamp(obj.get("trial_end"))
    return trial_end is not None and ended is not None and ended <= trial_end + TRIAL_END_SLACK


def _ended(obj: Mapping[str, Any], event: WebhookEvent) -> list[Planned]:
    if obj.get("status") != "canceled":
        return []  # incomplete_expired: the first payment never went through
    ended = timestamp(obj.get("ended_at") or obj.get("canceled_at")) or event.created
    trial = _ended_in_trial(obj, ended)
    facts = {
        "ended_on": date_format(ended),
        "premium_url": site_link("/premium"),
        "account_url": site_link("/account"),
        "trial": "yes" if trial else "",
        "what": "free trial of Premium" if trial else "Premium subscription",
    }
    skip = ""
    latest = object_id(obj.get("latest_invoice"))
    invoice = _invoice_now(latest) if latest else None
    never_paid = latest == "" or (
        invoice is not None
        and stripe_field(invoice, "billing_reason") == "subscription_create"
        and stripe_field(invoice, "status") != "paid"
    )
    if never_paid:
        skip = "the subscription was never paid for: Premium never started"
    return [Planned(Kind.SUBSCRIPTION_ENDED, object_id(obj.get("customer")), facts, skip)]


CARD_BRANDS = {"amex": "American Express", "diners": "Diners Club", "jcb": "JCB",
               "unionpay": "UnionPay", "mastercard": "Mastercard", "visa": "Visa",
               "discover": "Discover", "cartes_bancaires": "Cartes Bancaires"}  # fmt: skip


def card_format(method: Any) -> str:
    """``"Visa •••• 4242"``; ``""`` for no payment method (or one that is not a card)."""
    card = stripe_field(method, "card") if method is not None else None
    if card is None or not stripe_field(card, "last4"):
        return ""
    brand = str(stripe_field(card, "brand") or "card")
    return f"{CARD_BRANDS.get(brand, brand.title())} •••• {stripe_field(card, 'last4')}"


def _expanded(value: Any) -> Any | None:
    return value if value is not None and not isinstance(value, str) else None


def _subscription_now(subscription_id: str) -> Any | None:
    """The subscription as Stripe has it now, its card expanded; None if Stripe cannot say
    (the mail is then written from the event). A transient error propagates (retried)."""
    try:
        return stripe_client.subscription_retrieve_payment_method(subscription_id)
    except STRIPE_TRANSIENT:
        raise
    except stripe.StripeError as exc:
        logger.warning("Subscription %s not re-read for its e-mail: %s", subscription_id, exc)
        return None


def _renewal_card(subscription: Any) -> str | None:
    """The card the first charge after the trial will use: the subscription's default, else
    the customer's (Stripe's order). ``""``: there is none; None: Stripe could not say."""
    method = _expanded(stripe_field(subscription, "default_payment_method"))
    if method is None:
        customer_id = object_id(stripe_field(subscription, "customer"))
        try:
            customer = stripe_client.customer_retrieve(
                customer_id, expand=["invoice_settings.default_payment_method"]
            )
        except STRIPE_TRANSIENT:
            raise
        except stripe.StripeError as exc:
            logger.warning("Customer %s not read for its card: %s", customer_id, exc)
            return None
        invoice_settings = stripe_field(customer, "invoice_settings")
        method = _expanded(stripe_field(invoice_settings, "default_payment_method"))
    return card_format(method)


def _charge_after_trial(subscription: Any) -> tuple[int, str, str]:
    """``(amount, currency, interval)`` the first invoice after the trial charges: the price
    (times the quantity); with a discount on the subscription, Stripe's preview of that
    invoice instead (a figure of Stripe's, not a sum of ours)."""
    items = stripe_field(stripe_field(subscription, "items"), "data") or []
    item = items[0] if items else None
    price = stripe_field(item, "price")
    quantity = int(stripe_field(item, "quantity") or 1)
    amount = int(stripe_field(price, "unit_amount") or 0) * quantity
    currency = str(stripe_field(price, "currency") or "usd")
    interval = str(stripe_field(stripe_field(price, "recurring"), "interval") or "")
    if stripe_field(subscription, "discounts") or stripe_field(subscription, "discount"):
        try:
            preview = stripe_client.invoice_preview_upcoming(str(stripe_field(subscription, "id")))
            amount = int(stripe_field(preview, "amount_due") or 0)
        except STRIPE_TRANSIENT:
            raise
        except stripe.StripeError as exc:
            logger.warning("No preview of the invoice after the trial: %s", exc)
    return amount, currency, interval


def _trial_ending(obj: Mapping[str, Any]) -> list[Planned]:
    subscription_id = str(obj.get("id") or "")
    reread = _subscription_now(subscription_id) if subscription_id else None
    current: Any = reread if reread is not None else obj
    amount, currency, interval = _charge_after_trial(current)
    trial_end = timestamp(stripe_field(current, "trial_end"))
    card = _renewal_card(current)
    facts = {
        "trial_ends_on": date_format(trial_end),
        "amount": money_format(amount=amount, currency=currency),
        "interval": interval,
        "card": card or "",
        # No card known to be on file: the mail asks for one (without, the trial just ends).
        "no_card": "yes" if card == "" else "",
        "account_url": site_link("/account"),
    }
    skip = ""
    if stripe_field(current, "status") != "trialing":
        skip = f"the subscription is {stripe_field(current, 'status')} now: the trial is over"
    elif stripe_field(current, "cancel_at_period_end") or stripe_field(current, "cancel_at"):
        skip = "cancelled in the trial: nothing will be charged (the cancellation mail said so)"
    return [Planned(Kind.TRIAL_ENDING, object_id(obj.get("customer")), facts, skip)]


def event_emails_plan(event: WebhookEvent) -> list[Planned]:
    """The mails ``event`` asks for (see the module docstring); may re-read Stripe."""
    data = event.payload.get("data") or {}
    obj = data.get("object") or {}
    if event.type == "invoice.paid":
        return _receipt(obj, event)
    if event.type == "invoice.payment_failed":
        return _payment_problem(obj, Kind.PAYMENT_FAILED)
    if event.type == "invoice.payment_action_required":
        return _payment_problem(obj, Kind.ACTION_REQUIRED)
    if event.type == "customer.subscription.updated":
        return _cancellation(obj, data.get("previous_attributes") or {})
    if event.type == "customer.subscription.deleted":
        return _ended(obj, event)
    if event.type == "customer.subscription.trial_will_end":
        return _trial_ending(obj)
    return []


SUBJECTS = {
    Kind.RECEIPT: "Your receipt from {site}: {amount}",
    Kind.PAYMENT_FAILED: "Your payment of {amount} failed: update your card to keep Premium",
    Kind.ACTION_REQUIRED: "Please confirm your payment of {amount} to keep Premium",
    Kind.CANCELLATION_SCHEDULED: "Your Premium subscription ends on {ends_on}",
    Kind.SUBSCRIPTION_ENDED: "Your {what} has ended",
    Kind.TRIAL_ENDING: "Your free trial of Premium ends on {trial_ends_on}",
}


def event_emails_create(*, event: WebhookEvent) -> list[int]:
    """Store the mails ``event`` asks for, once; the ids of the new ``pending`` rows.

    Called by the worker after the event's effect. A row that exists already (the event
    delivered again, replayed, or processed by a second drain) is left as it is, so each
    (event, kind) gets at most one mail however often this runs. Transient Stripe errors of
    the re-reads propagate (the caller retries the event).
    """
    if BillingEmail.objects.filter(event_id=event.pk).exists():
        # Delivered or replayed again: its mail was decided the first time (each event type
        # asks for one kind), so Stripe is not asked again either.
        return []
    created: list[int] = []
    for plan in event_emails_plan(event):
        account = (
            BillingAccount.objects.select_related("user")
            .filter(stripe_customer_id=plan.customer_id)
            .first()
            if plan.customer_id
            else None
        )
        if account is None:
            logger.info("Stripe event %s: no account for customer %r, no %s e-mail",
                        event.pk, plan.customer_id, plan.kind)  # fmt: skip
            continue
        user = account.user
        facts = dict(plan.facts)
        # After the effect: how long Premium lasts (the grace of a past_due subscription).
        premium_left = account.premium_until is not None and account.premium_until > timezone.now()
        if plan.kind in (Kind.PAYMENT_FAILED, Kind.ACTION_REQUIRED) and premium_left:
            facts["premium_until"] = date_format(account.premium_until)
        skip = plan.skip or ("" if user.email else "the user has no e-mail address")
        row = BillingEmail(
            event_id=event.pk,
            kind=plan.kind,
            user=user,
            to=user.email or "",
            subject=SUBJECTS[Kind(plan.kind)].format(site=SITE_NAME, **facts)[:255],
            context=facts,
            status=Status.SKIPPED if skip else Status.PENDING,
            last_error=skip,
        )
        try:
            with transaction.atomic():  # a savepoint: the duplicate's error stays in here
                row.save(force_insert=True)
        except IntegrityError:
            continue  # (event, kind) has its row: delivered or replayed again
        if skip:
            logger.info("Billing e-mail %s (%s, event %s) skipped: %s",
                        row.pk, plan.kind, event.pk, skip)  # fmt: skip
        else:
            created.append(row.pk)
    return created


# --- Sending ---------------------------------------------------------------------------------


def email_claim(
    email_id: int, *, holder: Holder | None = None, now: datetime | None = None
) -> BillingEmail | None:
    """Take a mail for sending, atomically; None if it is not due, someone has it, or it is over.

    One conditional UPDATE: a ``pending`` row whose ``next_attempt_at`` has come (within
    :data:`CLAIM_EARLY`) moves to ``sending``, its attempts counted; so does a ``sending`` row
    claimed by the same task as ``holder.task_id`` (a redelivery or retry of that task: the
    earlier delivery is over, see the module docstring). Of any number of concurrent claims (a
    duplicated task, a redelivered one, the sweep's) exactly one wins; it records ``holder``
    (by default: no task, this process).
    """
    now = now or timezone.now()
    holder = holder or Holder(process=current_process())
    takeable = Q(status=Status.PENDING, next_attempt_at__lte=now + CLAIM_EARLY)
    if holder.task_id:
        takeable |= Q(status=Status.SENDING, claimed_by=holder.task_id)
    claimed = BillingEmail.objects.filter(takeable, pk=email_id).update(
        status=Status.SENDING,
        status_changed_at=now,
        attempts=F("attempts") + 1,
        claimed_by=holder.task_id,
        claimed_process=holder.process,
    )
    if claimed != 1:
        return None
    return BillingEmail.objects.get(pk=email_id)


def email_render(email: BillingEmail) -> tuple[str, str]:
    """The plain-text and HTML bodies of ``email`` (``billing/email/<kind>.txt`` / ``.html``)."""
    context = {**email.context, "site_name": SITE_NAME, "subject": email.subject}
    text = render_to_string(f"billing/email/{email.kind}.txt", context)
    html = render_to_string(f"billing/email/{email.kind}.html", context)
    return text, html


def _sender_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "localhost"


def mail_connection() -> BaseEmailBackend:
    """The mail backend's connection for one delivery (not opened yet: :func:`email_deliver`
    opens it). The sender records ``sent`` right after the relay's "250" and closes it after
    that (:func:`mail_connection_close`, SMTP's QUIT), so the window in which a dying worker
    leaves a delivered mail unrecorded (it is then sent again, see the module docstring) is
    that one database write, not also QUIT's round trip."""
    return get_connection(fail_silently=False)


def mail_connection_close(connection: BaseEmailBackend | None) -> None:
    """Close it; a failure after the relay took the mail is logged and changes nothing."""
    if connection is None:
        return
    try:
        connection.close()
    except SEND_ERRORS as error:
        logger.info("Mail connection not closed cleanly: %s", _describe(error))


def email_deliver(email: BillingEmail, *, connection: BaseEmailBackend) -> None:
    """Hand a claimed mail to the SMTP relay (``EMAIL_*`` settings) over ``connection`` (from
    :func:`mail_connection`, left open); raises what SMTP raised.

    The Message-ID is derived from the event and kind, so that even a mail sent twice by
    hand (the admin's Retry after an interrupted send) is one message to the receiving side.
    """
    if settings.EMAIL_BACKEND.endswith("smtp.EmailBackend") and not settings.EMAIL_HOST:
        raise EmailNotConfigured("EMAIL_HOST is not set: no SMTP relay to send billing e-mails to")
    text, html = email_render(email)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={
            "Message-ID": f"<{email.event_id}.{email.kind}@{_sender_domain()}>",
            # Transactional: no out-of-office replies, no auto-forward loops (RFC 3834).
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
    )
    message.attach_alternative(html, "text/html")
    # Opened here, so send_messages leaves it open (it closes only what it opened itself).
    connection.open()
    connection.send_messages([message])


def email_error_permanent(error: BaseException) -> bool:
    """True when retrying cannot help: the relay refused every recipient for good (5xx)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    return False


def email_backoff(*, attempts: int) -> int:
    """Seconds before the next attempt after ``attempts`` failed ones: the first wait is
    ``BILLING_EMAIL_RETRY_SECONDS``, doubled each time, at most ``..._RETRY_MAX_SECONDS``."""
    base = settings.BILLING_EMAIL_RETRY_SECONDS
    return int(min(base * 2 ** max(attempts - 1, 0), settings.BILLING_EMAIL_RETRY_MAX_SECONDS))


def _describe(error: BaseException) -> str:
    # The exception's own words (SMTP's answer); never the settings, so never the password.
    return f"{error.__class__.__name__}: {error}"[:4000]


def _finish(email: BillingEmail, **fields: Any) -> bool:
    """Move a ``sending`` mail (only) still held by ``email``'s holder on; False if it was not
    ``sending`` any more or another holder took it back (so a holder that lost its claim
    cannot end the new holder's)."""
    fields.setdefault("status_changed_at", timezone.now())
    held = BillingEmail.objects.filter(
        pk=email.pk,
        status=Status.SENDING,
        claimed_by=email.claimed_by,
        claimed_process=email.claimed_process,
    )
    return bool(held.update(**fields))


def email_sent(email: BillingEmail) -> None:
    """The relay took the message: ``sent``."""
    now = timezone.now()
    _finish(email, status=Status.SENT, status_changed_at=now, sent_at=now, last_error="")
    logger.info("Billing e-mail %s (%s, event %s) sent", email.pk, email.kind, email.event_id)


def email_delivered(email_id: int, *, task_id: str) -> bool:
    """Record ``sent`` for a mail the relay took in an earlier run of the task ``task_id``
    (its database write failed); never delivers. False if the row is not ``sending`` under that
    task any more. Without a recorded task id (redeliveries could overlap) any ``sending`` row
    is taken to be this task's: only the task that delivered it retries with ``delivered``."""
    held = BillingEmail.objects.filter(pk=email_id, status=Status.SENDING)
    if task_id:
        held = held.filter(claimed_by=task_id)
    now = timezone.now()
    done = held.update(status=Status.SENT, status_changed_at=now, sent_at=now, last_error="")
    if done:
        logger.info("Billing e-mail %s sent (recorded after the database came back)", email_id)
    return bool(done)


def email_release(email: BillingEmail, error: BaseException, *, retry_in: int) -> datetime:
    """Back to ``pending`` after a failed attempt, due again in ``retry_in`` seconds."""
    due = timezone.now() + timedelta(seconds=retry_in)
    _finish(email, status=Status.PENDING, next_attempt_at=due, last_error=_describe(error))
    logger.warning("Billing e-mail %s (%s) attempt %s failed, next in %s s: %s",
                   email.pk, email.kind, email.attempts, retry_in, _describe(error))  # fmt: skip
    return due


def email_failed(email: BillingEmail, error: BaseException) -> None:
    """Given up (refused for good, or out of attempts): ``failed``, the error kept."""
    _finish(email, status=Status.FAILED, last_error=_describe(error))
    logger.error("Billing e-mail %s (%s, event %s) failed after %s attempt(s): %s", email.pk,
                 email.kind, email.event_id, email.attempts, _describe(error))  # fmt: skip


def emails_due(*, now: datetime | None = None) -> list[int]:
    """The sweep: ids of ``pending`` mails whose task got lost, each touched so that one sweep
    takes it, and of ``sending`` ones whose process is gone (:func:`emails_orphans`); other
    ``sending`` claims older than ``BILLING_EMAIL_STALE_AFTER`` become ``failed``.

    A mail is lost when it is still ``pending`` ``BILLING_EMAIL_SWEEP_AFTER`` past its
    ``next_attempt_at`` (the broker was down when it was enqueued, or the task vanished).
    """
    now = now or timezone.now()
    orphans = emails_orphans(now=now)
    stale = BillingEmail.objects.filter(
        status=Status.SENDING, status_changed_at__lt=now - settings.BILLING_EMAIL_STALE_AFTER
    )
    for email in stale[:1000]:
        if _finish(
            email,
            status=Status.FAILED,
            status_changed_at=now,
            last_error="interrupted while sending (the worker stopped): it may have been "
            "delivered or not; Retry in the admin sends it again",
        ):
            logger.error("Billing e-mail %s (%s) interrupted while sending", email.pk, email.kind)
    due: list[int] = []
    lost = Q(status=Status.PENDING, next_attempt_at__lt=now - settings.BILLING_EMAIL_SWEEP_AFTER)
    for pk, next_at in BillingEmail.objects.filter(lost).values_list("pk", "next_attempt_at")[
        :1000
    ]:
        mine = BillingEmail.objects.filter(pk=pk, status=Status.PENDING, next_attempt_at=next_at)
        if mine.update(next_attempt_at=now) == 1:
            due.append(pk)
    return orphans + [pk for pk in due if pk not in orphans]


def emails_orphans(*, now: datetime | None = None) -> list[int]:
    """``sending`` mails whose process is gone on this host (a killed worker or pool process)
    go back to ``pending``, due now (``failed`` once out of ``BILLING_EMAIL_MAX_ATTEMPTS``);
    their ids are returned for enqueueing. Resent, not failed: see the module docstring.
    Claims made elsewhere are left alone (:func:`holders.process_gone` cannot tell from here).
    """
    now = now or timezone.now()
    where = scope()
    if not where:
        return []
    held = BillingEmail.objects.filter(
        status=Status.SENDING, claimed_process__startswith=where + "/"
    ).values_list("pk", "status_changed_at", "attempts", "claimed_process")[:1000]
    due: list[int] = []
    for pk, changed, attempts, process in held:
        if not process_gone(process):
            continue
        # Only if unchanged since read, so one sweep (or worker start) takes it.
        mine = BillingEmail.objects.filter(
            pk=pk, status=Status.SENDING, status_changed_at=changed, claimed_process=process
        )
        if attempts >= settings.BILLING_EMAIL_MAX_ATTEMPTS:
            if mine.update(
                status=Status.FAILED,
                status_changed_at=now,
                last_error=f"gave up after {attempts} attempts (its worker process is gone)",
            ):
                logger.error("Billing e-mail %s: its worker died on every attempt", pk)
            continue
        if mine.update(status=Status.PENDING, status_changed_at=now, next_attempt_at=now) == 1:
            logger.warning("Billing e-mail %s: its worker process is gone, sent again", pk)
            due.append(pk)
    return due


def emails_retry(email_ids: list[int]) -> list[int]:
    """The admin's Retry: ``failed`` mails (only) go back to ``pending`` with fresh attempts;
    their ids are returned for the caller to enqueue. Sent mails are never sent again."""
    now = timezone.now()
    failed = list(
        BillingEmail.objects.filter(pk__in=email_ids, status=Status.FAILED).values_list(
            "pk", flat=True
        )
    )
    BillingEmail.objects.filter(pk__in=failed, status=Status.FAILED).update(
        status=Status.PENDING, status_changed_at=now, next_attempt_at=now, attempts=0
    )
    return failed
