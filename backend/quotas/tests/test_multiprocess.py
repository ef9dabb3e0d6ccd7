"""Two separate server processes share one count (the SQLite file, or Redis)."""

import contextlib
import json
import urllib.error
import urllib.request

import pytest

from quotas.tests.support import gunicorn, migrate, own_redis, server_env


def _get(url):
    try:
        with urllib.request.urlopen(url + "/api/filers/", timeout=20) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.mark.integration
@pytest.mark.parametrize("counter", ["database", "redis"])
def test_two_processes_share_one_guest_count(tmp_path, counter):
    extra = {"API_QUOTA_GUEST": "4"}
    with contextlib.ExitStack() as stack:
        if counter == "redis":
            extra["REDIS_URL"] = stack.enter_context(own_redis())
        env = server_env(tmp_path, **extra)
        migrate(env)
        with gunicorn(env, tmp_path / "a.log") as a, gunicorn(env, tmp_path / "b.log") as b:
            answers = [_get(url) for url in (a, b, a, b)]
            assert [s for s, _, _ in answers] == [200, 200, 200, 200]
            assert [h["X-RateLimit-Remaining"] for _, h, _ in answers] == ["3", "2", "1", "0"]
            for url in (a, b):
                status, headers, body = _get(url)
                assert status == 429
                assert int(headers["Retry-After"]) > 0
                assert "Premium" in body["detail"]
