"""The NGINX template (nginx/templates/default.conf.template) as production renders it.

A real Debian nginx in front of a small capture server standing in for gunicorn: what the
backend receives (webhook bytes, forwarding headers) and what the browser gets (SPA caching,
security headers). Skipped where nginx is not installed (`scripts/apt-ensure nginx`).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devstack import nginx
from devstack.paths import ROOT
from devstack.processes import free_port, wait_for_port
from devstack.smoke import http

needs_nginx = pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed (scripts/apt-ensure nginx)",
)


@dataclass
class Captured:
    requests: list[dict] = field(default_factory=list)


def capture_server(captured: Captured) -> ThreadingHTTPServer:
    """Answers every request with 200 JSON and Django-like security headers; records it."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            captured.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
            answer = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            # What Django's middleware adds: NGINX must not let these appear twice.
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "same-origin")
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_PUT = _record

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, Captured]]:
    """NGINX with the production rendering, the upstream a capture server; (url, captured)."""
    # Not under pytest's 0700 tmp folders: as root, NGINX's workers run as `nobody` and must
    # reach the files and the request-body temp folder.
    base = Path(tempfile.mkdtemp(prefix="opensec-nginx-test-"))
    base.chmod(0o755)
    spa = base / "spa"
    (spa / "assets").mkdir(parents=True)
    (spa / "index.html").write_text(
        '<!doctype html><div id="q-app"></div><script type="module" src="/assets/app-1a2b3c.js">'
        "</script>"
    )
    (spa / "assets" / "app-1a2b3c.js").write_text("console.log('spa');\n" * 200)
    (spa / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    static = base / "static" / "admin"
    static.mkdir(parents=True)
    (static / "base.css").write_text("body { margin: 0 }\n")
    for path in (spa, spa / "assets", base / "static", static):
        path.chmod(0o755)

    captured = Captured()
    upstream = capture_server(captured)
    port = free_port()
    values = nginx.production_values(
        LISTEN_PORT=f"127.0.0.1:{port}",
        BACKEND_UPSTREAM=f"127.0.0.1:{upstream.server_address[1]}",
        SPA_ROOT=str(spa),
        STATIC_ROOT=str(base / "static"),
    )
    conf = nginx.write_nginx_config(base / "nginx", values, devtools=False)
    proc = subprocess.Popen(
        nginx.nginx_command(conf), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, proc=proc, timeout=10)
        yield f"http://127.0.0.1:{port}", captured
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        upstream.shutdown()
        upstream.server_close()
        shutil.rmtree(base, ignore_errors=True)


def test_every_template_variable_is_documented_and_defaulted_in_the_image() -> None:
    template = nginx.SERVER_TEMPLATE.read_text()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template))
    assert used == set(nginx.TEMPLATE_VARIABLES)
    readme = (ROOT / "nginx" / "README.md").read_text()
    dockerfile = (ROOT / "nginx" / "Dockerfile").read_text()
    for name in nginx.TEMPLATE_VARIABLES:
        assert f"`{name}`" in readme, name
        assert re.search(rf"\b{name}=", dockerfile), f"{name} has no ENV default in the image"
    assert set(nginx.production_values()) == set(nginx.TEMPLATE_VARIABLES)


def test_render_refuses_a_variable_without_value() -> None:
    with pytest.raises(KeyError, match="LISTEN_PORT"):
        nginx.render("listen ${LISTEN_PORT}; root $document_root;", {})
    assert nginx.render("listen ${LISTEN_PORT}; $uri", {"LISTEN_PORT": "80"}) == "listen 80; $uri"


def _csp(policy: str) -> str:
    """Whitespace as a browser reads it (an empty CSP_EXTRA_SOURCES leaves " ;")."""
    return re.sub(r"\s+;", ";", re.sub(r"\s+", " ", policy))


def test_production_csp_is_strict_and_the_stack_allowance_explicit() -> None:
    production = nginx.render(nginx.SERVER_TEMPLATE.read_text(), nginx.production_values())
    default_csp = re.search(r'default\s+"(default-src[^"]+)"', production)
    assert default_csp
    policy = _csp(default_csp.group(1))
    assert "script-src 'self' https://js.stripe.com;" in policy
    assert "frame-src https://js.stripe.com https://hooks.stripe.com;" in policy
    assert "connect-src 'self' https://api.stripe.com;" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-eval'" not in policy
    assert "script-src 'self' https://js.stripe.com 'unsafe-inline'" not in policy
    relaxed = nginx.render(
        nginx.SERVER_TEMPLATE.read_text(), nginx.production_values(CSP_EXTRA_SOURCES="'self'")
    )
    assert "frame-src https://js.stripe.com https://hooks.stripe.com 'self';" in _csp(relaxed)


@needs_nginx
def test_production_rendering_passes_nginx_t(tmp_path: Path) -> None:
    assert nginx.nginx_test_production() == 0


@needs_nginx
def test_stack_rendering_with_the_standins_passes_nginx_t(tmp_path: Path) -> None:
    (tmp_path / "spa").mkdir()
    values = nginx.production_values(
        LISTEN_PORT="127.0.0.1:8080",
        BACKEND_UPSTREAM="127.0.0.1:8000",
        SPA_ROOT=str(tmp_path / "spa"),
        STATIC_ROOT=str(tmp_path),
        CSP_EXTRA_SOURCES="'self'",
    )
    conf = nginx.write_nginx_config(tmp_path / "nginx", values, devtools=True)
    result = nginx.nginx_test(conf)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "nginx" / "extra" / "devtools.conf").is_file()


@needs_nginx
def test_webhook_body_reaches_the_backend_byte_for_byte(site: tuple[str, Captured]) -> None:
    url, captured = site
    # Bytes that any re-encoding, normalisation or compression would change.
    body = (
        b'{"id": "evt_1",  "type":"invoice.paid",\r\n "note": "caf\xc3\xa9 \\u00e9",'
        b'\t"gz": "\x1f\x8b", "pad": "' + b"x" * 70000 + b'"}\n\n'
    )
    status, _, _ = http(
        "POST",
        f"{url}/api/stripe-webhooks/",
        body,
        {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": "t=1,v1=abc",
            "Accept-Encoding": "gzip",
        },
    )
    assert status == 200
    seen = captured.requests[-1]
    assert seen["path"] == "/api/stripe-webhooks/"
    assert seen["body"] == body
    assert seen["headers"]["content-length"] == str(len(body))
    assert seen["headers"]["content-type"] == "application/json; charset=utf-8"
    assert seen["headers"]["stripe-signature"] == "t=1,v1=abc"
    assert "content-encoding" not in seen["headers"]


@needs_nginx
def test_webhook_body_over_the_limit_is_refused_by_nginx(site: tuple[str, Captured]) -> None:
    url, captured = site
    before = len(captured.requests)
    status, headers, body = http(
        "POST", f"{url}/api/stripe-webhooks/", b"x" * (2 * 1024 * 1024 + 1), {}
    )
    assert status == 413
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["code"] == "body_too_large"
    assert len(captured.requests) == before


@needs_nginx
def test_backend_down_is_a_json_503_with_the_security_headers() -> None:
    """gunicorn not listening (a restart): the API client gets JSON it can act on, not
    NGINX's HTML 502, and the answer keeps the security headers."""
    base = Path(tempfile.mkdtemp(prefix="opensec-nginx-down-"))
    base.chmod(0o755)
    (base / "spa").mkdir()
    (base / "spa" / "index.html").write_text("<!doctype html>")
    port, dead = free_port(), free_port()  # nothing listens on `dead`
    values = nginx.production_values(
        LISTEN_PORT=f"127.0.0.1:{port}",
        BACKEND_UPSTREAM=f"127.0.0.1:{dead}",
        SPA_ROOT=str(base / "spa"),
        STATIC_ROOT=str(base),
    )
    conf = nginx.write_nginx_config(base / "nginx", values, devtools=False)
    proc = subprocess.Popen(
        nginx.nginx_command(conf), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, proc=proc, timeout=10)
        for method, path in (("GET", "/api/filers/"), ("POST", "/api/stripe-webhooks/")):
            status, headers, body = http(method, f"http://127.0.0.1:{port}{path}", b"{}", {})
            assert status == 503, (method, path, status)
            assert headers["content-type"].startswith("application/json")
            assert json.loads(body)["code"] == "service_unavailable"
            assert headers["x-content-type-options"] == "nosniff"
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(base, ignore_errors=True)


@needs_nginx
def test_forwarding_headers_let_django_trust_only_the_right_most_hop(
    site: tuple[str, Captured],
) -> None:
    url, captured = site
    host = url.removeprefix("http://")
    status, headers, _ = http(
        "GET",
        f"{url}/api/filers/?q=x",
        headers={"X-Forwarded-For": "203.0.113.66", "X-Forwarded-Proto": "https"},
    )
    assert status == 200
    seen = captured.requests[-1]
    assert seen["path"] == "/api/filers/?q=x"
    # The forged entry stays on the left; NGINX appends the peer it saw (Django, trusting this
    # NGINX's address in TRUSTED_PROXIES, reads from the right).
    assert seen["headers"]["x-forwarded-for"] == "203.0.113.66, 127.0.0.1"
    # The client's own X-Forwarded-Proto is replaced, never passed on.
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert seen["headers"]["host"] == host
    assert re.fullmatch(r"[0-9a-f]{32}", seen["headers"]["x-request-id"])
    # Django's security headers are hidden: each appears once, NGINX's value.
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "max-age=31536000" in headers["strict-transport-security"]
    assert "cache-control" not in headers  # NGINX adds none to proxied answers


@needs_nginx
@pytest.mark.parametrize("path", ["/api/auth/csrf/", "/auth/login/x/", "/admin/", "/api/account/"])
def test_backend_prefixes_are_proxied(site: tuple[str, Captured], path: str) -> None:
    url, captured = site
    status, _, body = http("GET", url + path)
    assert status == 200 and body == b'{"ok": true}'
    assert captured.requests[-1]["path"] == path


@needs_nginx
def test_spa_caching_fallback_and_security_headers(site: tuple[str, Captured]) -> None:
    url, captured = site
    before = len(captured.requests)
    status, headers, body = http("GET", f"{url}/")
    assert status == 200 and b"q-app" in body
    assert headers["cache-control"] == "no-cache"
    csp = _csp(headers["content-security-policy"])
    assert "script-src 'self' https://js.stripe.com;" in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-frame-options"] == "DENY"

    status, headers, body = http("GET", f"{url}/filers/1000097/holdings")
    assert status == 200 and b"q-app" in body
    assert headers["cache-control"] == "no-cache"

    status, headers, body = http(
        "GET", f"{url}/assets/app-1a2b3c.js", headers={"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["content-encoding"] == "gzip"

    status, headers, _ = http("GET", f"{url}/assets/app-gone.js")
    assert status == 404
    assert "cache-control" not in headers
    assert headers["x-content-type-options"] == "nosniff"  # error pages too

    status, _, _ = http("GET", f"{url}/robots.txt")
    assert status == 404
    status, headers, _ = http("GET", f"{url}/favicon.svg")
    assert status == 200 and headers["cache-control"] == "public, max-age=3600"
    status, headers, body = http("GET", f"{url}/static/admin/base.css")
    assert status == 200 and b"margin" in body
    # The stand-ins' routes do not exist in production: the SPA answers them.
    status, _, body = http("GET", f"{url}/_dev/oidc/.well-known/openid-configuration")
    assert b"q-app" in body
    status, _, body = http("GET", f"{url}/js.stripe.com/v3/")
    assert b"q-app" in body
    assert len(captured.requests) == before  # none of these reached the backend


@needs_nginx
def test_docs_page_gets_the_strict_policy_and_no_cdn(site: tuple[str, Captured]) -> None:
    """Swagger UI is self-hosted (drf-spectacular-sidecar): no CDN and no inline script."""
    url, _ = site
    _, headers, _ = http("GET", f"{url}/api/docs/")
    _, default_headers, _ = http("GET", f"{url}/")
    assert headers["content-security-policy"] == default_headers["content-security-policy"]
    assert "script-src 'self' https://js.stripe.com;" in _csp(headers["content-security-policy"])
    production = nginx.render(nginx.SERVER_TEMPLATE.read_text(), nginx.production_values())
    assert "jsdelivr" not in production and "'unsafe-inline' https" not in production


@contextmanager
def nginx_with_admin_rules(rules: str | None) -> Iterator[tuple[str, Captured]]:
    """Production NGINX in front of a capture server, with ``rules`` as the admin allow-list."""
    base = Path(tempfile.mkdtemp(prefix="opensec-nginx-admin-"))
    base.chmod(0o755)
    (base / "spa").mkdir()
    (base / "spa" / "index.html").write_text("<div id='q-app'></div>")
    captured = Captured()
    upstream = capture_server(captured)
    port = free_port()
    values = nginx.production_values(
        LISTEN_PORT=f"127.0.0.1:{port}",
        BACKEND_UPSTREAM=f"127.0.0.1:{upstream.server_address[1]}",
        SPA_ROOT=str(base / "spa"),
        STATIC_ROOT=str(base),
    )
    conf = nginx.write_nginx_config(base / "nginx", values, devtools=False)
    if rules is not None:
        (base / "nginx" / "extra" / "admin").mkdir()
        (base / "nginx" / "extra" / "admin" / "allow.conf").write_text(rules)
    proc = subprocess.Popen(
        nginx.nginx_command(conf), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, proc=proc, timeout=10)
        yield f"http://127.0.0.1:{port}", captured
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        upstream.shutdown()
        upstream.server_close()
        shutil.rmtree(base, ignore_errors=True)


@needs_nginx
def test_admin_allow_list_keeps_other_addresses_out_of_the_admin_only() -> None:
    """The optional allow-list (EXTRA_CONF_DIR/admin/*.conf): 127.0.0.1 is not on it here."""
    with nginx_with_admin_rules("allow 192.0.2.0/24;\ndeny all;\n") as (url, captured):
        status, headers, _ = http("GET", f"{url}/admin/login/")
        assert status == 403
        assert headers["x-frame-options"] == "DENY"  # NGINX's own answer, headers and all
        status, _, _ = http("POST", f"{url}/admin/login/", b"username=a&password=b")
        assert status == 403
        assert captured.requests == []  # never reached Django
        status, _, _ = http("GET", f"{url}/api/auth/csrf/")
        assert status == 200 and captured.requests[-1]["path"] == "/api/auth/csrf/"


@needs_nginx
@pytest.mark.parametrize("rules", [None, "allow 127.0.0.1;\ndeny all;\n"])
def test_admin_is_proxied_without_a_list_or_from_a_listed_address(rules: str | None) -> None:
    with nginx_with_admin_rules(rules) as (url, captured):
        status, _, _ = http("GET", f"{url}/admin/login/")
        assert status == 200 and captured.requests[-1]["path"] == "/admin/login/"
