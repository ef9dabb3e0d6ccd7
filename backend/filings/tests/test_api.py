import csv
import io
from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from billing.models import BillingAccount

from .expected import KINGDON, total_dollars

KINGDON_CIK = 1000097
MSFT = "594918104"
ATHENEX = "04685N103"

ENDPOINTS = {
    "filers": "/api/filers/",
    "filer": f"/api/filers/{KINGDON_CIK}/",
    "holdings": f"/api/filers/{KINGDON_CIK}/holdings/",
    "holders": f"/api/securities/{MSFT}/holders/",
}


def _error(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"detail", "code"}
    assert body["detail"].endswith(".")
    return body


# --- who may see what ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "endpoint", "status"),
    [
        ("guest", "filers", 200),
        ("guest", "filer", 200),
        ("guest", "holdings", 401),
        ("guest", "holders", 401),
        ("free", "filers", 200),
        ("free", "filer", 200),
        ("free", "holdings", 403),
        ("free", "holders", 403),
        ("premium", "filers", 200),
        ("premium", "filer", 200),
        ("premium", "holdings", 200),
        ("premium", "holders", 200),
    ],
)
def test_authorisation_matrix(request, demo, tier, endpoint, status):
    client = request.getfixturevalue(f"{tier}_client")
    response = client.get(ENDPOINTS[endpoint])
    assert response.status_code == status, response.content
    if status == 401:
        assert _error(response, 401)["code"] == "not_authenticated"
    if status == 403:
        body = _error(response, 403)
        assert body["code"] == "premium_required"
        assert "Premium" in body["detail"] and "/premium" in body["detail"]


def test_premium_with_a_bearer_token(demo, premium_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(premium_user)}")
    assert client.get(ENDPOINTS["holdings"]).status_code == 200


def test_free_user_with_a_bearer_token_gets_403(demo, free_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(free_user)}")
    assert client.get(ENDPOINTS["holders"]).status_code == 403


def test_ended_premium_is_free(demo):
    user = User.objects.create_user(username="lapsed")
    BillingAccount.objects.create(
        user=user,
        subscription_id="sub_old",
        stripe_status="canceled",
        premium_until=timezone.now() - timedelta(minutes=1),
    )
    client = APIClient()
    client.force_login(user)
    assert client.get(ENDPOINTS["holdings"]).status_code == 403


# --- filers ------------------------------------------------------------------------------


def test_filer_list_is_paginated_by_name(guest_client, demo):
    body = guest_client.get("/api/filers/", {"page_size": 2}).json()
    assert body["count"] == 3
    assert [f["name"] for f in body["results"]] == [
        "ACORN CREEK CAPITAL LLC",
        "KINGDON CAPITAL MANAGEMENT, L.L.C.",
    ]
    assert body["previous"] is None and "page=2" in body["next"]
    second = guest_client.get(body["next"]).json()
    assert [f["cik"] for f in second["results"]] == [1894188]
    assert second["next"] is None
    assert second["results"][0]["latest_period"] == "2023-09-30"


@pytest.mark.parametrize(
    ("q", "ciks"),
    [
        ("kingdon", [KINGDON_CIK]),
        ("Capital", [1994827, KINGDON_CIK]),
        ("1000097", [KINGDON_CIK]),
        ("0001000097", [KINGDON_CIK]),
        ("no such fund", []),
        ("\u00b2", []),  # "²": a digit to str.isdigit(), not a number to int()
    ],
)
def test_filer_search_by_name_or_cik(guest_client, demo, q, ciks):
    body = guest_client.get("/api/filers/", {"q": q}).json()
    assert [f["cik"] for f in body["results"]] == ciks
    assert body["count"] == len(ciks)


def test_filer_detail_has_latest_filing_and_top_ten(guest_client, demo):
    body = guest_client.get("/api/filers/0001000097/").json()
    assert body["cik"] == KINGDON_CIK
    assert body["periods"] == ["2019-12-31"]
    assert body["latest_filing"] == {
        "accession_number": "0001000097-20-000004",
        "form_type": "13F-HR",
        "period_of_report": "2019-12-31",
        "filed_on": "2020-02-14",
        "total_value": total_dollars(KINGDON),
        "holdings_count": 55,
        "row_count": 55,
    }
    top = body["top_holdings"]
    assert len(top) == 10
    assert [h["value"] for h in top] == sorted((h["value"] for h in top), reverse=True)
    assert top[0]["cusip"] == "G11196105" and top[0]["value"] == 68_470_000


@pytest.mark.parametrize(
    "url", ["/api/filers/?format=xml", "/api/filers/0001000097/holdings/?format=xml"]
)
def test_unknown_format_is_a_json_404_with_a_code(premium_client, demo, url):
    body = _error(premium_client.get(url), 404)
    assert body["code"] == "not_found"


@pytest.mark.parametrize("cik", ["999", "abc", "12345678901", "\u00b2", "1\u00b3"])
def test_unknown_filer_is_404(guest_client, demo, cik):
    body = _error(guest_client.get(f"/api/filers/{cik}/"), 404)
    assert body["code"] == "not_found"


# --- holdings ----------------------------------------------------------------------------


def test_holdings_are_paginated_largest_first(premium_client, demo):
    first = premium_client.get(ENDPOINTS["holdings"]).json()
    assert first["count"] == 55
    assert len(first["results"]) == 50
    assert first["filing"]["period_of_report"] == "2019-12-31"
    rest = premium_client.get(first["next"]).json()
    assert len(rest["results"]) == 5
    values = [h["value"] for h in first["results"] + rest["results"]]
    assert values == sorted(values, reverse=True)
    assert sum(values) == total_dollars(KINGDON)
    athenex = [h for h in first["results"] + rest["results"] if h["cusip"] == ATHENEX]
    assert sorted(h["put_call"] for h in athenex) == ["", "Call"]


def test_holdings_of_a_given_period(premium_client, demo):
    response = premium_client.get(ENDPOINTS["holdings"], {"period": "2019-12-31"})
    assert response.status_code == 200
    assert response.json()["count"] == 55


def test_holdings_bad_period_is_400(premium_client, demo):
    body = _error(premium_client.get(ENDPOINTS["holdings"], {"period": "31/12/2019"}), 400)
    assert "YYYY-MM-DD" in body["detail"]


def test_holdings_period_without_filing_is_404(premium_client, demo):
    body = _error(premium_client.get(ENDPOINTS["holdings"], {"period": "2018-12-31"}), 404)
    assert "2018-12-31" in body["detail"]


def test_holdings_of_unknown_filer_is_404(premium_client, demo):
    _error(premium_client.get("/api/filers/999/holdings/"), 404)


def test_holdings_as_csv(premium_client, demo):
    response = premium_client.get(ENDPOINTS["holdings"], {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="13f-1000097-2019-12-31-holdings.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 55  # every position, not one page
    assert list(rows[0]) == [
        "cusip",
        "issuer_name",
        "title_of_class",
        "value",
        "shares",
        "sh_prn_type",
        "put_call",
    ]
    assert sum(int(r["value"]) for r in rows) == total_dollars(KINGDON)


def test_csv_errors_are_json(premium_client, guest_client, demo):
    _error(premium_client.get(ENDPOINTS["holdings"], {"format": "csv", "period": "x"}), 400)
    _error(guest_client.get(ENDPOINTS["holdings"], {"format": "csv"}), 401)


# --- holders -----------------------------------------------------------------------------


def test_holders_of_a_security(premium_client, demo):
    body = premium_client.get(ENDPOINTS["holders"]).json()
    assert body["security"]["cusip"] == MSFT
    assert body["count"] == 3
    assert {h["cik"] for h in body["results"]} == {KINGDON_CIK, 1894188, 1994827}
    values = [h["value"] for h in body["results"]]
    assert values == sorted(values, reverse=True)
    kingdon = next(h for h in body["results"] if h["cik"] == KINGDON_CIK)
    assert kingdon["period_of_report"] == "2019-12-31"
    assert kingdon["value"] == 21_947_000


def test_holders_lower_case_cusip(premium_client, demo):
    body = premium_client.get(f"/api/securities/{ATHENEX.lower()}/holders/").json()
    assert [(h["cik"], h["put_call"]) for h in body["results"]] == [
        (KINGDON_CIK, ""),
        (KINGDON_CIK, "Call"),
    ]


def test_holders_of_unknown_security_is_404(premium_client, demo):
    _error(premium_client.get("/api/securities/000000000/holders/"), 404)


# --- schema ------------------------------------------------------------------------------


def test_schema_describes_the_data_endpoints(guest_client):
    schema = guest_client.get("/api/schema/", {"format": "json"}).json()
    holdings = schema["paths"]["/api/filers/{cik}/holdings/"]["get"]
    params = {p["name"] for p in holdings["parameters"]}
    assert {"cik", "period", "format", "page", "page_size"} <= params
    assert {"200", "400", "401", "403", "404", "429"} <= set(holdings["responses"])
    assert "X-RateLimit-Remaining" in holdings["responses"]["200"]["headers"]
    assert "Retry-After" in holdings["responses"]["429"]["headers"]
    assert {"jwtAuth": []} in holdings["security"]
    assert {"cookieAuth": []} in holdings["security"]
    filers = schema["paths"]["/api/filers/"]["get"]
    assert "q" in {p["name"] for p in filers["parameters"]}
    assert {"/api/filers/{cik}/", "/api/securities/{cusip}/holders/"} <= set(schema["paths"])


def test_periods_are_listed_once_when_a_period_was_amended(guest_client, demo):
    """An amendment (13F-HR/A) is a second filing of the same period; the period is one."""
    from filings.models import Filing

    original = Filing.objects.get(accession_number="0001000097-20-000004")
    Filing.objects.create(
        accession_number="0001000097-20-000009",
        filer=original.filer,
        form_type="13F-HR/A",
        period_of_report=original.period_of_report,
        filed_on=date(2020, 3, 2),
        total_value=0,
        holdings_count=0,
        row_count=0,
    )
    body = guest_client.get("/api/filers/0001000097/").json()
    assert body["periods"] == ["2019-12-31"]
    assert body["latest_filing"]["accession_number"] == "0001000097-20-000009"
