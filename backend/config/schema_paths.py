"""OpenAPI entries for the contract's endpoints that are not DRF views (drf-spectacular
cannot see them): the Stripe webhook receiver and the LinkedIn sign-in redirects."""

from typing import Any

_ERROR = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
            "required": ["detail", "code"],
        }
    }
}

NON_DRF_PATHS: dict[str, Any] = {
    "/api/stripe-webhooks/": {
        "post": {
            "operationId": "stripe_webhook",
            "tags": ["stripe"],
            "summary": "Stripe's webhook deliveries",
            "description": (
                "Called by Stripe (or `stripe listen`), not by clients. The raw body is checked "
                "against the `Stripe-Signature` header (HMAC-SHA256 with STRIPE_WEBHOOK_SECRET, "
                "300 s tolerance), stored in an inbox keyed by the event id, handed to a Celery "
                "worker and answered at once."
            ),
            "security": [],
            "parameters": [
                {
                    "name": "Stripe-Signature",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "`t=<unix time>,v1=<hex HMAC>` as Stripe sends it.",
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
                "description": "A Stripe Event, byte for byte as signed.",
            },
            "responses": {
                "200": {
                    "description": "Stored (or already stored: `duplicate: true`, or ignored).",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "400": {
                    "description": "Bad or stale signature, or not an event; nothing stored.",
                    "content": _ERROR,
                },
                "503": {
                    "description": "Could not be stored; Stripe delivers it again.",
                    "content": _ERROR,
                },
            },
        }
    },
    "/auth/login/linkedin-openidconnect/": {
        "post": {
            "operationId": "linkedin_login",
            "tags": ["accounts"],
            "summary": "Start signing in with LinkedIn (browser form POST)",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "csrfmiddlewaretoken": {"type": "string"},
                                "next": {"type": "string", "description": "Same-site path only."},
                            },
                            "required": ["csrfmiddlewaretoken"],
                        }
                    }
                },
            },
            "responses": {
                "302": {"description": "To LinkedIn's authorize page."},
                "403": {"description": "CSRF check failed."},
            },
        }
    },
    "/auth/complete/linkedin-openidconnect/": {
        "get": {
            "operationId": "linkedin_complete",
            "tags": ["accounts"],
            "summary": "LinkedIn's redirect back: signs in with a session cookie",
            "security": [],
            "parameters": [
                {"name": "code", "in": "query", "schema": {"type": "string"}},
                {"name": "state", "in": "query", "schema": {"type": "string"}},
                {"name": "error", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "302": {
                    "description": (
                        "Signed in: to `next` or `/account`. Failed: to "
                        "`/login?error=<a sentence>`."
                    )
                }
            },
        }
    },
}
