"""The OpenAPI schema and Swagger UI describe the whole HTTP contract (docs/api.md)."""

import pytest


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


def test_every_endpoint_docs_api_md_names_is_in_the_schema(client):
    """The list above is fixed; this one is read from docs/api.md itself, so an endpoint added
    to the contract (plans, promotion codes, self-service...) without a schema fails here."""
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text()
    named = set(re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/(?:api|auth)/[\w./{}-]*)`", text))
    named -= {("GET", "/api/schema/"), ("GET", "/api/docs/")}  # the schema's own pages
    assert len(named) >= 25  # the pattern still finds the contract's endpoints (29 today)

    def shape(path: str) -> str:
        return re.sub(r"{[^}]*}", "{}", path)

    schema = yaml.safe_load(client.get("/api/schema/").content)
    documented = {
        (method.upper(), shape(path))
        for path, methods in schema["paths"].items()
        for method in methods
    }
    missing = sorted(f"{m} {p}" for m, p in named if (m, shape(p)) not in documented)
    assert missing == []


def _schema(client) -> dict:
    import yaml

    return yaml.safe_load(client.get("/api/schema/").content)


def _statuses(schema: dict, path: str, method: str) -> set[str]:
    return set(schema["paths"][path][method]["responses"])


def test_what_the_fuzzer_found_undeclared_is_declared(client):
    """Issue 12, contract: every status these endpoints answer is in the schema."""
    schema = _schema(client)
    assert "404" in _statuses(schema, "/api/filers/", "get")  # ?page=0, or past the end
    for path in ("/api/auth/token/refresh/", "/api/auth/token/revoke/"):
        assert "400" in _statuses(schema, path, "post"), path
    assert "429" in _statuses(schema, "/api/auth/token/", "post")
    for path in (
        "/api/stripe/create-subscription/",
        "/api/stripe/subscription/sync/",
        "/api/stripe/cancel-subscription/",
        "/api/stripe/resume-subscription/",
    ):
        assert "429" in _statuses(schema, path, "post"), path
    # {"refresh": ""} is refused with 400, so the schema must not call it valid.
    body = schema["paths"]["/api/auth/token/refresh/"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    refresh = schema["components"]["schemas"][ref]["properties"]["refresh"]
    assert refresh["minLength"] == 1
    assert refresh["pattern"]  # not shaped like a JWT ("\f", a NUL) is a 400 too
    assert "400" in _statuses(schema, "/api/stripe/cancel-subscription/", "post")


def test_an_empty_page_query_is_the_declared_404(client, db):
    for query in ("?page=0&page_size=0", "?page=999"):
        response = client.get("/api/filers/" + query)
        assert response.status_code == 404, query
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/auth/login/linkedin-openidconnect/", "POST"),
        ("/auth/complete/linkedin-openidconnect/", "GET"),
    ],
)
def test_sign_in_routes_answer_other_methods_with_a_json_405(path, allowed, db):
    """Not a CSRF 403 HTML page (login) nor a sign-in attempt (complete): the API's 405."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)  # as a real client: CSRF is checked
    for method in ("get", "post", "put", "patch", "delete", "options"):
        if method == allowed.lower():
            continue
        response = getattr(browser, method)(path)
        assert response.status_code == 405, (method, response.status_code)
        assert response["Allow"] == allowed
        assert response.json() == {
            "detail": f'Method "{method.upper()}" not allowed.',
            "code": "method_not_allowed",
        }
    if allowed == "POST":  # the allowed method keeps its CSRF check
        assert browser.post(path).status_code == 403


def test_swagger_ui_is_self_hosted_without_inline_script(client):
    """Issue 12, item 5: no CDN, no inline script (the strict CSP of nginx/ applies); the
    browser half is frontend/e2e/docs.spec.mjs through `make e2e-stack`."""
    import re

    from django.contrib.staticfiles import finders

    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn.jsdelivr.net" not in html and "@latest" not in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    sources = re.findall(r'src="([^"]+)"', html)
    assert all(src.startswith(("/static/", "/api/docs/")) for src in sources), sources
    for src in sources:
        if src.startswith("/static/"):
            assert finders.find(src.removeprefix("/static/")), src
    start_up = client.get(next(s for s in sources if s.startswith("/api/docs/")))
    assert start_up.status_code == 200
    assert start_up["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in start_up.content
