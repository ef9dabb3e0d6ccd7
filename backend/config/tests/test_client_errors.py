"""Django's own client errors (raised before or outside DRF) come back in the API's shape,
``{"detail": "<a sentence>", "code": "..."}``, never as Django's HTML page."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def test_a_host_that_is_not_ours_is_a_json_400():
    answer = Client(HTTP_HOST="evil.example").get("/api/filers/")
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert json.loads(answer.content) == {
        "detail": "This site is not served under that host name.",
        "code": "host_not_allowed",
    }


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_form_body_over_djangos_limit_is_a_json_413():
    # The admin's sign-in form reads request.POST, which enforces the limit.
    answer = Client().post("/admin/login/", {"username": "x" * 2000, "password": "y"})
    assert answer.status_code == 413
    assert json.loads(answer.content)["code"] == "body_too_large"


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=5)
def test_too_many_form_fields_is_a_json_400():
    fields = {f"field{n}": "x" for n in range(20)}
    answer = Client().post("/admin/login/", fields)
    assert answer.status_code == 400
    assert json.loads(answer.content)["code"] == "too_many_fields"
