"""Billing self-service after the purchase (docs/api.md, "Billing self-service"): the card on
file, a new card through a SetupIntent, the invoices and paying them, the customer portal,
and the status object's ``payment_problem``.

Nothing of stripe-python is mocked: the app's calls reach the offline stand-in over HTTP,
renewals are the stand-in's own test-clock helpers (``renew``, ``fail_renewal``), what
Stripe.js does in the browser is done with a separate Stripe client (confirming a
SetupIntent, answering 3-D Secure), and Stripe's events are taken from the stand-in and run
through the real inbox and task (``store`` + ``process``).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.services import token_pair_issue
from billing import stripe_client
from billing.models import BillingAccount, WebhookEvent
from billing.stripe_objects import object_id
from billing.tests.support import account_of, process, store, unique_user
from fakestripe.testing import stripe_client as stand_in

CONFIG = "/api/stripe/config/"
CREATE = "/api/stripe/create-subscription/"
STATUS = "/api/stripe/subscription/"
SYNC = "/api/stripe/subscription/sync/"
CANCEL = "/api/stripe/cancel-subscription/"
CARD = "/api/stripe/payment-method/"
SETUP = "/api/stripe/setup-intent/"
INVOICES = "/api/stripe/invoices/"
PORTAL = "/api/stripe/portal-session/"
INVOICE_KEYS = {
    "id", "number", "status", "amount_due", "amount_paid", "currency", "created",
    "period_start", "period_end", "hosted_invoice_url", "invoice_pdf", "client_secret",
}  # fmt: skip


def pay_url(invoice_id: str) -> str:
    return f"/api/stripe/invoices/{invoice_id}/pay/"


@pytest.fixture(autouse=True)
def fresh_rate_limits(db: Any) -> None:
    """The throttles count per user and per address in the shared cache."""
    cache.clear()


# --- Helpers --------------------------------------------------------------------------------------


def signed_in(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def subscriber(fake: Any, make_user: Any, pm: str = "pm_card_visa") -> tuple[Any, APIClient, Any]:
    """A user who bought Premium with ``pm`` through the API: (user, client, subscription)."""
    user = unique_user(make_user)
    client = signed_in(user)
    bought = client.post(CREATE, {"payment_method_id": pm}, format="json")
    assert bought.status_code == 201, bought.content
    assert bought.json()["premium"] is True
    sub = stand_in(fake).v1.subscriptions.retrieve(bought.json()["subscription_id"])
    return user, client, sub


def change_card(client: APIClient, pm: str) -> Any:
    return client.post(CARD, {"payment_method_id": pm}, format="json")


def stripe_events(fake: Any, customer_id: str, since: int, types: set[str] | None = None):
    """The stand-in's events about ``customer_id`` since ``since``, oldest first (as JSON)."""
    page = stand_in(fake).v1.events.list(params={"limit": 100, "created": {"gte": since}})
    found = []
    for event in reversed(page.data):  # the list is newest first
        data = event.to_dict()
        obj = data["data"]["object"]
        owner = obj.get("id") if obj.get("object") == "customer" else obj.get("customer")
        if object_id(owner) == customer_id and (types is None or data["type"] in types):
            found.append(data)
    return found


def process_events(events: list[dict]) -> list[str]:
    """Each event through the inbox and the worker's task (in this process), in order; one
    already stored is a redelivery, which the receiver would not queue again."""
    fresh = [e for e in events if not WebhookEvent.objects.filter(pk=e["id"]).exists()]
    return [process(store(json.dumps(event, default=str).encode())) for event in fresh]


def latest_invoice(fake: Any, sub_id: str) -> Any:
    sub = stand_in(fake).v1.subscriptions.retrieve(sub_id)
    return stand_in(fake).v1.invoices.retrieve(
        sub.latest_invoice, params={"expand": ["payments.data.payment.payment_intent"]}
    )


def intent_of(invoice: Any) -> Any:
    return invoice.payments.data[0].payment.payment_intent


def failed_renewal(fake: Any, client: APIClient, sub: Any) -> dict:
    """The renewal's charge fails (whatever the card); the app learns it from a sync."""
    fake.fail_renewal(sub.id)
    status = client.post(SYNC).json()
    assert status["state"] == "past_due", status
    return status


def defaults_at_stripe(fake: Any, user: Any) -> tuple[str | None, str | None]:
    """(the customer's default payment method, the subscription's), as the stand-in has them."""
    account = account_of(user)
    client = stand_in(fake)
    customer = client.v1.customers.retrieve(account.stripe_customer_id)
    sub = client.v1.subscriptions.retrieve(account.subscription_id)
    return customer.invoice_settings.default_payment_method, sub.default_payment_method


def card_of(fake: Any, pm_id: str) -> Any:
    return stand_in(fake).v1.payment_methods.retrieve(pm_id).card


def cards_at_stripe(fake: Any, user: Any) -> set[str]:
    """The ids of the cards attached to the user's customer, as the stand-in lists them."""
    customer_id = account_of(user).stripe_customer_id
    page = stand_in(fake).v1.payment_methods.list(params={"customer": customer_id, "limit": 100})
    return {pm.id for pm in page.data}


# --- Who may call what ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", CARD),
        ("post", CARD),
        ("post", SETUP),
        ("get", INVOICES),
        ("post", pay_url("in_123")),
        ("post", PORTAL),
    ],
)
def test_a_guest_gets_401_with_a_json_sentence(guest, db, method, path):
    response = getattr(guest, method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.json()["detail"]


def test_a_bearer_token_works_and_needs_no_csrf(stripe_ready, make_user):
    user, _, _ = subscriber(stripe_ready, make_user)
    script = APIClient(enforce_csrf_checks=True)
    script.credentials(HTTP_AUTHORIZATION="Bearer " + token_pair_issue(user=user)["access"])
    assert script.get(CARD).json()["payment_method"]["last4"] == "4242"
    assert script.post(SETUP).status_code == 201
    assert script.get(INVOICES).status_code == 200


def test_a_session_post_needs_the_csrf_token(stripe_ready, make_user):
    user = unique_user(make_user)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    refused = browser.post(SETUP, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    browser.get("/api/auth/csrf/")
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(SETUP, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201, accepted.content


# --- The card on file -----------------------------------------------------------------------------


def test_without_a_customer_there_is_no_card_and_stripe_is_not_asked(stripe_ready, make_user):
    client = signed_in(unique_user(make_user))
    stripe_client.CALLS.clear()
    assert client.get(CARD).json() == {"payment_method": None}
    assert sum(stripe_client.CALLS.values()) == 0


def test_the_card_renewals_charge_is_the_subscriptions_default(stripe_ready, make_user):
    _, client, sub = subscriber(stripe_ready, make_user, "pm_card_mastercard")
    body = client.get(CARD).json()["payment_method"]
    assert body["id"] == sub.default_payment_method
    assert body["brand"] == "mastercard"
    assert body["last4"] == "4444"
    assert isinstance(body["exp_month"], int) and 1 <= body["exp_month"] <= 12
    assert isinstance(body["exp_year"], int) and body["exp_year"] >= time.gmtime().tm_year


# --- A new card: SetupIntent, then payment-method -------------------------------------------------


def test_a_new_card_through_a_setup_intent_becomes_the_default_everywhere(stripe_ready, make_user):
    """What the browser does: POST setup-intent/, stripe.confirmSetup(...), POST
    payment-method/ with the SetupIntent's payment_method; the next renewal charges it."""
    user, client, sub = subscriber(stripe_ready, make_user)
    created = client.post(SETUP)
    assert created.status_code == 201, created.content
    secret = created.json()["client_secret"]
    assert secret.startswith("seti_") and "_secret_" in secret

    browser = stand_in(stripe_ready)  # Stripe.js, in the browser
    intent = browser.v1.setup_intents.confirm(
        secret.split("_secret_")[0], params={"payment_method": "pm_card_amex"}
    )
    assert intent.status == "succeeded"

    changed = change_card(client, intent.payment_method)
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["payment_method"]["id"] == intent.payment_method
    assert body["payment_method"]["brand"] == "amex"
    assert body["invoice"] is None  # nothing was open
    assert body["subscription"]["state"] == "active"
    assert defaults_at_stripe(stripe_ready, user) == (intent.payment_method, intent.payment_method)
    assert client.get(CARD).json()["payment_method"]["last4"] == "0005"

    renewed = stripe_ready.renew(sub.id)
    assert renewed["status"] == "active"
    paid = latest_invoice(stripe_ready, sub.id)
    assert paid.status == "paid"
    assert intent_of(paid).payment_method == intent.payment_method


def test_a_setup_intent_makes_the_customer_once(stripe_ready, make_user):
    user = unique_user(make_user)
    client = signed_in(user)
    first = client.post(SETUP).json()["client_secret"]
    second = client.post(SETUP).json()["client_secret"]
    assert first != second  # a new SetupIntent each time: an unused one costs nothing
    customers = stand_in(stripe_ready).v1.customers.list(params={"email": user.email}).data
    mine = [c.id for c in customers if (c.metadata or {}).get("user_id") == str(user.pk)]
    assert mine == [account_of(user).stripe_customer_id]  # (e-mails repeat across tests)


@pytest.mark.parametrize("value", ["", None, "<script>", "pi_123", "pm_", 12, ["pm_card_visa"]])
def test_a_malformed_payment_method_id_is_400_and_stripe_is_not_asked(
    stripe_ready, make_user, value
):
    client = signed_in(unique_user(make_user))
    stripe_client.CALLS.clear()
    response = change_card(client, value)
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("payment_method_id:")
    assert client.post(CARD, {}, format="json").status_code == 400
    assert sum(stripe_client.CALLS.values()) == 0


def test_an_unknown_payment_method_is_400(stripe_ready, make_user):
    _, client, _ = subscriber(stripe_ready, make_user)
    response = change_card(client, "pm_doesnotexist0000")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_payment_method"
    assert response.json()["detail"]


def test_another_customers_card_is_400_and_changes_nothing(stripe_ready, make_user):
    owner, _, owner_sub = subscriber(stripe_ready, make_user, "pm_card_mastercard")
    intruder, client, _ = subscriber(stripe_ready, make_user)
    before = defaults_at_stripe(stripe_ready, intruder)

    response = change_card(client, owner_sub.default_payment_method)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "That card is not one of yours.",
        "code": "invalid_payment_method",
    }
    assert defaults_at_stripe(stripe_ready, intruder) == before
    method = stand_in(stripe_ready).v1.payment_methods.retrieve(owner_sub.default_payment_method)
    assert method.customer == account_of(owner).stripe_customer_id  # still the owner's only
    assert client.get(CARD).json()["payment_method"]["last4"] == "4242"


def test_a_card_from_another_users_setup_intent_is_400(stripe_ready, make_user):
    other = signed_in(unique_user(make_user))
    secret = other.post(SETUP).json()["client_secret"]
    intent = stand_in(stripe_ready).v1.setup_intents.confirm(
        secret.split("_secret_")[0], params={"payment_method": "pm_card_visa"}
    )
    intruder, client, _ = subscriber(stripe_ready, make_user)
    response = change_card(client, intent.payment_method)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_payment_method"
    assert defaults_at_stripe(stripe_ready, intruder)[0] != intent.payment_method


def test_a_card_the_bank_refuses_is_402_and_the_old_card_stays(stripe_ready, make_user):
    user, client, _ = subscriber(stripe_ready, make_user)
    before = defaults_at_stripe(stripe_ready, user)
    response = change_card(client, "pm_card_chargeDeclinedInsufficientFunds")
    assert response.status_code == 402
    assert response.json() == {
        "detail": "Your card has insufficient funds.",  # Stripe's sentence
        "code": "card_declined",
    }
    assert defaults_at_stripe(stripe_ready, user) == before
    assert client.get(CARD).json()["payment_method"]["last4"] == "4242"


# --- A failed renewal, mended by a new card -------------------------------------------------------


def test_a_new_card_pays_the_open_invoice_and_premium_is_back_at_once(stripe_ready, make_user):
    user, client, sub = subscriber(stripe_ready, make_user)
    problem = failed_renewal(stripe_ready, client, sub)["payment_problem"]
    open_invoice = latest_invoice(stripe_ready, sub.id)
    assert problem["kind"] == "payment_failed" and problem["invoice_id"] == open_invoice.id

    changed = change_card(client, "pm_card_mastercard")
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert set(body["invoice"]) == INVOICE_KEYS
    assert body["invoice"]["id"] == open_invoice.id
    assert body["invoice"]["status"] == "paid"
    assert body["invoice"]["amount_paid"] == 2000
    assert body["invoice"]["client_secret"] is None
    assert body["subscription"]["state"] == "active" and body["subscription"]["premium"] is True
    assert body["subscription"]["payment_problem"] is None
    # Stored at once: no webhook was processed.
    assert not WebhookEvent.objects.exists()
    assert client.get(STATUS).json() == body["subscription"]
    new_card = body["payment_method"]["id"]
    assert defaults_at_stripe(stripe_ready, user) == (new_card, new_card)
    assert intent_of(latest_invoice(stripe_ready, sub.id)).payment_method == new_card


def test_a_new_card_refused_for_the_open_invoice_is_402_and_the_old_card_stays(
    stripe_ready, make_user
):
    """4000 0000 0000 0341 is saved fine and refused when charged: the invoice stays open,
    the old card stays the default, the problem stays, and the refused card, attached by this
    call, is taken off the customer again (nothing half-changed)."""
    user, client, sub = subscriber(stripe_ready, make_user)
    failed_renewal(stripe_ready, client, sub)
    before = defaults_at_stripe(stripe_ready, user)
    cards_before = cards_at_stripe(stripe_ready, user)
    assert before[0] in cards_before
    stripe_ready.clear_requests_log()

    response = change_card(client, "pm_card_chargeCustomerFail")
    assert response.status_code == 402
    assert response.json() == {"detail": "Your card was declined.", "code": "card_declined"}
    # The call did attach a new card (the test id names a fresh one), then detached it, once,
    # with a key of ours.
    log = stripe_ready.requests_log()
    [attach] = [r for r in log if r["path"].endswith("/attach") and r["status"] == 200]
    refused = attach["path"].split("/")[3]
    [detach] = [r for r in log if r["path"].endswith("/detach")]
    assert detach["path"] == f"/v1/payment_methods/{refused}/detach"
    assert detach["status"] == 200
    assert detach["idempotency_key"].endswith(f"-payment-method-detach-{refused}")
    assert refused not in cards_at_stripe(stripe_ready, user)
    assert cards_at_stripe(stripe_ready, user) == cards_before
    assert defaults_at_stripe(stripe_ready, user) == before
    assert latest_invoice(stripe_ready, sub.id).status == "open"
    status = client.get(STATUS).json()
    assert status["state"] == "past_due"
    assert status["payment_problem"]["kind"] == "payment_failed"


def test_a_saved_card_refused_for_the_open_invoice_stays_attached(stripe_ready, make_user):
    """A card the customer already had (saved through a SetupIntent) and that is refused when
    charged: 402, the old card stays the default, and the saved card is not taken away (this
    call did not attach it)."""
    user, client, sub = subscriber(stripe_ready, make_user)
    secret = client.post(SETUP).json()["client_secret"]
    saved = (
        stand_in(stripe_ready)
        .v1.setup_intents.confirm(
            secret.split("_secret_")[0], params={"payment_method": "pm_card_chargeCustomerFail"}
        )
        .payment_method
    )
    failed_renewal(stripe_ready, client, sub)
    before = defaults_at_stripe(stripe_ready, user)
    assert saved in cards_at_stripe(stripe_ready, user) and saved not in before
    stripe_ready.clear_requests_log()

    response = change_card(client, saved)
    assert response.status_code == 402
    assert response.json() == {"detail": "Your card was declined.", "code": "card_declined"}
    log = stripe_ready.requests_log()
    assert [r for r in log if r["path"].endswith("/pay")], log  # it was charged, and refused
    assert not [r for r in log if r["path"].endswith(("/attach", "/detach"))]
    assert saved in cards_at_stripe(stripe_ready, user)
    assert defaults_at_stripe(stripe_ready, user) == before
    assert latest_invoice(stripe_ready, sub.id).status == "open"


def test_a_new_card_needing_3d_secure_answers_the_secret_then_sync_ends_the_problem(
    stripe_ready, make_user
):
    user, client, sub = subscriber(stripe_ready, make_user)
    failed_renewal(stripe_ready, client, sub)

    body = change_card(client, "pm_card_threeDSecure2Required").json()
    invoice = body["invoice"]
    assert invoice["status"] == "open"
    assert invoice["client_secret"].startswith("pi_") and "_secret_" in invoice["client_secret"]
    assert body["subscription"]["payment_problem"]["kind"] == "action_required"
    # The card is good (only the bank wants to see the customer): it is the default now.
    assert defaults_at_stripe(stripe_ready, user)[0] == body["payment_method"]["id"]

    # stripe.handleNextAction({clientSecret}) in the browser, then subscription/sync/.
    secret = invoice["client_secret"]
    stripe_ready.authenticate(secret.split("_secret_")[0], secret, success=True)
    synced = client.post(SYNC).json()
    assert synced["state"] == "active" and synced["payment_problem"] is None


# --- Invoices -------------------------------------------------------------------------------------


def test_invoices_are_newest_first_and_paged_with_starting_after(stripe_ready, make_user):
    user, client, sub = subscriber(stripe_ready, make_user)
    stripe_ready.renew(sub.id)
    stripe_ready.renew(sub.id)
    at_stripe = [
        i.id
        for i in stand_in(stripe_ready)
        .v1.invoices.list(params={"customer": account_of(user).stripe_customer_id})
        .data
    ]
    assert len(at_stripe) == 3

    first = client.get(INVOICES, {"limit": 2})
    assert first.status_code == 200, first.content
    page1 = first.json()
    assert page1["has_more"] is True
    second = client.get(INVOICES, {"limit": 2, "starting_after": page1["results"][-1]["id"]})
    page2 = second.json()
    assert page2["has_more"] is False
    shown = page1["results"] + page2["results"]
    assert [i["id"] for i in shown] == at_stripe  # Stripe's order: newest first
    created = [i["created"] for i in shown]
    assert created == sorted(created, reverse=True)
    for invoice in shown:
        assert set(invoice) == INVOICE_KEYS
        assert invoice["status"] == "paid"
        assert invoice["amount_due"] == invoice["amount_paid"] == 2000
        assert invoice["currency"] == "usd"
        assert invoice["created"].endswith("Z") and invoice["period_end"].endswith("Z")
        assert invoice["period_start"] < invoice["period_end"]
        assert invoice["client_secret"] is None
    # The renewals bill the periods that follow each other.
    assert shown[0]["period_start"] == shown[1]["period_end"]
    # Without a limit: one page of 10.
    default = client.get(INVOICES).json()
    assert [i["id"] for i in default["results"]] == at_stripe and default["has_more"] is False


def test_no_customer_no_invoices_and_stripe_is_not_asked(stripe_ready, make_user):
    client = signed_in(unique_user(make_user))
    stripe_client.CALLS.clear()
    assert client.get(INVOICES).json() == {"results": [], "has_more": False}
    assert sum(stripe_client.CALLS.values()) == 0


def test_an_open_invoice_waiting_for_3d_secure_carries_its_secret(stripe_ready, make_user):
    _, client, sub = subscriber(stripe_ready, make_user)
    assert change_card(client, "pm_card_threeDSecure2Required").status_code == 200
    stripe_ready.renew(sub.id)  # off session: the bank wants the customer
    newest = client.get(INVOICES).json()["results"][0]
    assert newest["status"] == "open"
    assert newest["client_secret"] == intent_of(latest_invoice(stripe_ready, sub.id)).client_secret


@pytest.mark.parametrize(
    ("query", "status", "word"),
    [
        ({"limit": 0}, 400, "limit"),
        ({"limit": 101}, 400, "limit"),
        ({"limit": "ten"}, 400, "limit"),
        ({"limit": ""}, 400, "limit"),
        ({"starting_after": "garbage"}, 400, "starting_after"),
        ({"starting_after": ""}, 400, "starting_after"),  # not "absent", as forms would have it
        ({"starting_after": "in_doesnotexist0000"}, 404, "starting_after"),
    ],
)
def test_bad_paging_parameters_are_json_sentences(stripe_ready, make_user, query, status, word):
    _, client, _ = subscriber(stripe_ready, make_user)
    response = client.get(INVOICES, query)
    assert response.status_code == status, response.content
    assert response.json()["detail"].startswith(f"{word}:")


def test_another_users_invoice_is_not_a_cursor(stripe_ready, make_user):
    _, _, owner_sub = subscriber(stripe_ready, make_user)
    _, client, _ = subscriber(stripe_ready, make_user)
    response = client.get(INVOICES, {"starting_after": owner_sub.latest_invoice})
    assert response.status_code == 404
    assert "results" not in response.json()


def test_stripe_failing_on_the_list_is_502_json(stripe_ready, make_user):
    _, client, _ = subscriber(stripe_ready, make_user)
    stripe_ready.inject_fault("/v1/invoices", method="GET", action="error", status=500)
    response = client.get(INVOICES)
    assert response.status_code == 502
    assert response.json()["code"] == "stripe_error"


# --- Paying an invoice ----------------------------------------------------------------------------


def test_paying_the_open_invoice_of_a_failed_renewal(stripe_ready, make_user):
    _, client, sub = subscriber(stripe_ready, make_user)
    failed_renewal(stripe_ready, client, sub)
    invoice_id = latest_invoice(stripe_ready, sub.id).id

    response = client.post(pay_url(invoice_id))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == INVOICE_KEYS
    assert body["id"] == invoice_id and body["status"] == "paid" and body["amount_paid"] == 2000
    status = client.get(STATUS).json()
    assert status["state"] == "active" and status["payment_problem"] is None

    again = client.post(pay_url(invoice_id))
    assert again.status_code == 409
    assert again.json() == {
        "detail": "This invoice is paid: only an open invoice can be paid.",
        "code": "invoice_not_open",
    }


def test_a_double_click_on_pay_charges_once(stripe_ready, make_user):
    _, client, sub = subscriber(stripe_ready, make_user)
    failed_renewal(stripe_ready, client, sub)
    invoice_id = latest_invoice(stripe_ready, sub.id).id
    stripe_ready.clear_requests_log()
    answers = [client.post(pay_url(invoice_id)).status_code for _ in range(2)]
    assert answers == [200, 409]
    pays = [r for r in stripe_ready.requests_log() if r["path"].endswith("/pay")]
    assert len(pays) == 1 and pays[0]["idempotency_key"]
    posts = [r for r in stripe_ready.requests_log() if r["method"] == "POST"]
    assert all(r["idempotency_key"] for r in posts), posts


def test_paying_with_a_card_the_bank_refuses_is_402(stripe_ready, make_user):
    _, client, sub = subscriber(stripe_ready, make_user)
    # A card that is saved fine and refused when charged becomes the default...
    assert change_card(client, "pm_card_chargeCustomerFail").status_code == 200
    stripe_ready.renew(sub.id)  # ...so the renewal fails with it
    invoice_id = latest_invoice(stripe_ready, sub.id).id
    response = client.post(pay_url(invoice_id))
    assert response.status_code == 402
    assert response.json() == {"detail": "Your card was declined.", "code": "card_declined"}
    status = client.get(STATUS).json()
    assert status["payment_problem"]["kind"] == "payment_failed"
    assert status["payment_problem"]["invoice_id"] == invoice_id


def test_paying_when_3d_secure_is_needed_answers_the_client_secret(stripe_ready, make_user):
    _, client, sub = subscriber(stripe_ready, make_user)
    assert change_card(client, "pm_card_threeDSecure2Required").status_code == 200
    stripe_ready.renew(sub.id)  # off session: requires_action
    invoice_id = latest_invoice(stripe_ready, sub.id).id

    body = client.post(pay_url(invoice_id)).json()
    assert body["status"] == "open"
    secret = body["client_secret"]
    assert secret.startswith("pi_") and "_secret_" in secret
    stripe_ready.authenticate(secret.split("_secret_")[0], secret, success=True)
    status = client.post(SYNC).json()
    assert status["state"] == "active" and status["payment_problem"] is None
    assert latest_invoice(stripe_ready, sub.id).status == "paid"


def test_another_users_invoice_is_404_and_none_of_its_data(stripe_ready, make_user):
    _, owner_client, owner_sub = subscriber(stripe_ready, make_user)
    failed_renewal(stripe_ready, owner_client, owner_sub)
    theirs = latest_invoice(stripe_ready, owner_sub.id).id
    _, client, _ = subscriber(stripe_ready, make_user)

    response = client.post(pay_url(theirs))
    assert response.status_code == 404
    assert response.json() == {"detail": "You have no invoice with that id.", "code": "not_found"}
    assert latest_invoice(stripe_ready, owner_sub.id).status == "open"  # not paid by anyone


@pytest.mark.parametrize(
    "invoice_id",
    ["in_doesnotexist0000", "garbage", "in_", "in_%3Cscript%3E", "pi_123", "in_a.b", "in_abc%0A"],
)
def test_an_unknown_or_malformed_invoice_is_the_same_404(stripe_ready, make_user, invoice_id):
    _, client, _ = subscriber(stripe_ready, make_user)
    response = client.post(pay_url(invoice_id))
    assert response.status_code == 404
    assert response.json() == {"detail": "You have no invoice with that id.", "code": "not_found"}


def test_paying_without_a_card_on_file_is_409(stripe_ready, make_user):
    user, client, sub = subscriber(stripe_ready, make_user)
    dashboard = stand_in(stripe_ready)  # someone removed both defaults in the dashboard
    dashboard.v1.subscriptions.update(sub.id, params={"default_payment_method": ""})
    dashboard.v1.customers.update(
        account_of(user).stripe_customer_id,
        params={"invoice_settings": {"default_payment_method": ""}},
    )
    stripe_ready.fail_renewal(sub.id)
    response = client.post(pay_url(latest_invoice(stripe_ready, sub.id).id))
    assert response.status_code == 409
    assert response.json()["code"] == "no_payment_method"
    assert client.get(CARD).json() == {"payment_method": None}


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_pays_charge_once(stripe_price, fake_stripe, make_user):
    _, api, sub = subscriber(fake_stripe, make_user)
    failed_renewal(fake_stripe, api, sub)
    invoice_id = latest_invoice(fake_stripe, sub.id).id
    user = BillingAccount.objects.get(subscription_id=sub.id).user
    answers: list[int] = []
    barrier = threading.Barrier(2)

    def pay() -> None:
        client = Client()
        client.force_login(user)
        barrier.wait()
        answers.append(client.post(pay_url(invoice_id)).status_code)

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answers) == [200, 409]
    assert latest_invoice(fake_stripe, sub.id).status == "paid"


# --- payment_problem from the webhooks ------------------------------------------------------------


def test_a_failed_renewal_shows_the_problem_once_the_webhooks_are_processed(
    stripe_ready, make_user
):
    _, client, sub = subscriber(stripe_ready, make_user)
    since = int(time.time()) - 1
    stripe_ready.fail_renewal(sub.id)
    stripe_client.CALLS.clear()
    assert client.get(STATUS).json()["payment_problem"] is None  # nothing processed yet

    events = stripe_events(stripe_ready, sub.customer, since)
    assert "invoice.payment_failed" in [e["type"] for e in events]
    assert set(process_events(events)) <= {"done", "ignored"}

    stripe_client.CALLS.clear()
    status = client.get(STATUS).json()
    assert sum(stripe_client.CALLS.values()) == 0  # the status never asks Stripe
    invoice = latest_invoice(stripe_ready, sub.id)
    assert status["state"] == "past_due" and status["premium"] is True  # within the grace
    assert status["payment_problem"] == {
        "kind": "payment_failed",
        "invoice_id": invoice.id,
        "amount_due": 2000,
        "currency": "usd",
        "next_attempt": status["payment_problem"]["next_attempt"],
    }
    # Stripe retries the charge by itself later: when, the answer says.
    next_attempt = status["payment_problem"]["next_attempt"]
    assert next_attempt is not None and next_attempt.endswith("Z")
    assert next_attempt > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # The account page's GET /api/account/ embeds the same object.
    assert client.get("/api/account/").json()["subscription"] == status

    # Paid: the answer and the status say so; the events that follow change nothing.
    since = int(time.time()) - 1
    assert client.post(pay_url(invoice.id)).json()["status"] == "paid"
    assert client.get(STATUS).json()["payment_problem"] is None
    process_events(stripe_events(stripe_ready, sub.customer, since))
    after = client.get(STATUS).json()
    assert after["state"] == "active" and after["payment_problem"] is None


def test_a_renewal_needing_authentication_is_action_required_from_its_own_event(
    stripe_ready, make_user
):
    """invoice.payment_action_required alone (a handled type) brings the problem in."""
    _, client, sub = subscriber(stripe_ready, make_user)
    assert change_card(client, "pm_card_threeDSecure2Required").status_code == 200
    since = int(time.time()) - 1
    stripe_ready.renew(sub.id)
    events = stripe_events(
        stripe_ready, sub.customer, since, types={"invoice.payment_action_required"}
    )
    assert len(events) == 1
    assert process_events(events) == ["done"]
    problem = client.get(STATUS).json()["payment_problem"]
    assert problem["kind"] == "action_required"
    assert problem["invoice_id"] == latest_invoice(stripe_ready, sub.id).id


def test_cancelling_now_ends_the_problem(stripe_ready, make_user):
    _, client, sub = subscriber(stripe_ready, make_user)
    failed_renewal(stripe_ready, client, sub)
    status = client.post(CANCEL, {"at_period_end": False}, format="json").json()
    assert status["state"] == "cancelled" and status["payment_problem"] is None


# --- The customer portal --------------------------------------------------------------------------


@override_settings(BILLING_PORTAL_ENABLED=False)
def test_without_the_portal_config_says_so_and_the_endpoint_is_404(stripe_ready, make_user):
    assert APIClient().get(CONFIG).json()["portal"] is False
    _, client, _ = subscriber(stripe_ready, make_user)
    stripe_client.CALLS.clear()
    response = client.post(PORTAL)
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Managing billing on Stripe's portal is not offered on this site.",
        "code": "not_found",
    }
    assert sum(stripe_client.CALLS.values()) == 0


@override_settings(BILLING_PORTAL_ENABLED=True, SITE_URL="http://app.example")
def test_the_portal_link_leads_to_a_page_back_to_the_account(stripe_ready, make_user):
    assert APIClient().get(CONFIG).json()["portal"] is True
    _, client, _ = subscriber(stripe_ready, make_user)
    response = client.post(PORTAL)
    assert response.status_code == 200, response.content
    url = response.json()["url"]
    assert url.startswith(("http://", "https://"))
    assert set(response.json()) == {"url"}
    # The stand-in's own portal page (Stripe's is hosted by Stripe) links back to /account.
    with urllib.request.urlopen(url, timeout=10) as page:
        assert page.status == 200
        assert "http://app.example/account" in page.read().decode()


@override_settings(BILLING_PORTAL_ENABLED=True)
def test_the_portal_needs_a_customer(stripe_ready, make_user):
    response = signed_in(unique_user(make_user)).post(PORTAL)
    assert response.status_code == 404
    assert response.json()["code"] == "no_customer"


# --- Rate limits ----------------------------------------------------------------------------------


@override_settings(BILLING_RATE_STRIPE_READS_USER="2/hour")
def test_the_account_pages_reads_have_their_own_budget(stripe_ready, make_user):
    _, client, _ = subscriber(stripe_ready, make_user)
    assert client.get(CARD).status_code == 200
    assert client.get(INVOICES).status_code == 200
    stripe_client.CALLS.clear()
    refused = client.get(CARD)
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled" and int(refused["Retry-After"]) > 0
    assert sum(stripe_client.CALLS.values()) == 0
    assert client.post(SETUP).status_code == 201  # the other budget is untouched


@override_settings(BILLING_RATE_STRIPE_CALLS_USER="1/hour")
def test_setup_intent_pay_and_portal_share_the_stripe_calls_budget(stripe_ready, make_user):
    client = signed_in(unique_user(make_user))
    assert client.post(SETUP).status_code == 201
    stripe_client.CALLS.clear()
    for path in (SETUP, pay_url("in_123"), PORTAL):
        assert client.post(path).status_code == 429
    assert sum(stripe_client.CALLS.values()) == 0
