"""The OpenAPI schema and Swagger UI describe the whole HTTP contract (docs/api.md)."""


def test_openapi_schema_covers_every_endpoint_of_the_contract(client):
    """docs/api.md's paths, the non-DRF ones (webhook, sign-in redirects) included."""
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    contract = {
        "/api/auth/csrf/": "get",
        "/auth/login/linkedin-openidconnect/": "post",
        "/auth/complete/linkedin-openidconnect/": "get",
        "/api/auth/logout/": "post",
        "/api/account/": "get",
        "/api/auth/token/": "post",
        "/api/auth/token/refresh/": "post",
        "/api/auth/token/revoke/": "post",
        "/api/stripe/config/": "get",
        "/api/stripe/create-subscription/": "post",
        "/api/stripe/subscription/sync/": "post",
        "/api/stripe/subscription/": "get",
        "/api/stripe/cancel-subscription/": "post",
        "/api/stripe/resume-subscription/": "post",
        "/api/stripe-webhooks/": "post",
        "/api/filers/": "get",
        "/api/filers/{cik}/": "get",
        "/api/filers/{cik}/holdings/": "get",
        "/api/securities/{cusip}/holders/": "get",
    }
    missing = [
        f"{m.upper()} {p}" for p, m in contract.items() if m not in schema["paths"].get(p, {})
    ]
    assert missing == []
    assert client.get("/api/docs/").status_code == 200
