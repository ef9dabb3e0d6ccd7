"""What PaymentIntents and SetupIntents share when they are confirmed (Stripe's own checks)."""

from __future__ import annotations

from typing import Any

from ..errors import invalid_request

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")


def confirmable_check(intent: Any, kind: str, client_secret: str | None) -> None:
    """Refuse, as Stripe does, a wrong ``client_secret`` or an intent past confirmation.

    ``kind`` is ``"PaymentIntent"`` or ``"SetupIntent"`` (it names the intent in the messages
    and the error code).
    """
    if client_secret is not None and client_secret != intent.client_secret:
        raise invalid_request(
            "The client_secret provided does not match the client_secret associated with the "
            f"{kind}.",
            param="client_secret",
        )
    if intent.status not in CONFIRMABLE:
        message = (
            f"You cannot confirm this {kind} because it has already succeeded after being "
            "previously confirmed."
            if intent.status == "succeeded"
            else f"You cannot confirm this {kind} because it has a status of {intent.status}."
        )
        prefix = {"PaymentIntent": "payment_intent", "SetupIntent": "setup_intent"}[kind]
        raise invalid_request(message, code=f"{prefix}_unexpected_state")
