"""Start/stop the stand-in from Python (tests, scripts)::

    with FakeStripe() as fs:
        client = stripe.StripeClient(fs.secret_key, base_addresses={"api": fs.url})
        fs.register_webhook("http://127.0.0.1:8000/api/stripe-webhooks/", "whsec_...")

Only the standard library is used here, so importing it is cheap.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

URL_PREFIX = "FAKESTRIPE_URL="


class FakeStripeError(RuntimeError):
    """The stand-in did not start, died, or refused a ``_config`` call."""


class FakeStripe:
    secret_key = "sk_test_offline0000000000000000000000"
    publishable_key = "pk_test_offline0000000000000000000000"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: str | os.PathLike[str] | None = None,
        python: str | None = None,
        startup_timeout: float = 10.0,
        webhook_delay: float | None = None,
        verbose: bool = False,
        public_url: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.python = python or sys.executable
        self.startup_timeout = startup_timeout
        self.webhook_delay = webhook_delay
        self.verbose = verbose
        self.public_url = public_url
        self._own_state_dir = state_dir is None
        self.state_dir = os.fspath(state_dir) if state_dir is not None else None
        self.url: str | None = None
        self._proc: subprocess.Popen | None = None
        self._stderr_path: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeStripe:
        if self._proc is not None and self._proc.poll() is None:
            return self
        if self.state_dir is None:
            self.state_dir = tempfile.mkdtemp(prefix="fakestripe-")
            self._own_state_dir = True
        os.makedirs(self.state_dir, exist_ok=True)
        cmd = [
            self.python,
            "-m",
            "fakestripe",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--state-dir",
            self.state_dir,
            "--parent-pid",
            str(os.getpid()),
        ]
        if self.webhook_delay is not None:
            cmd += ["--webhook-delay", str(self.webhook_delay)]
        if self.verbose:
            cmd.append("--verbose")
        if self.public_url:
            cmd += ["--public-url", self.public_url]
        self._stderr_path = os.path.join(self.state_dir, "server.log")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self._stderr_path, "ab") as errlog:
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.state_dir,
                stdout=subprocess.PIPE,
                stderr=errlog,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.url = self._wait_for_url()
        if self.port == 0:  # a restart reuses the same port, so URLs handed out stay valid
            self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def _wait_for_url(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        selector = selectors.DefaultSelector()
        selector.register(self._proc.stdout, selectors.EVENT_READ)
        buffer = b""
        try:
            while time.monotonic() < deadline:
                if selector.select(timeout=0.05):
                    chunk = os.read(self._proc.stdout.fileno(), 4096)
                    buffer += chunk
                    for line in buffer.decode(errors="replace").splitlines():
                        if line.startswith(URL_PREFIX):
                            return line[len(URL_PREFIX) :].strip()
                    if not chunk:
                        break
                elif self._proc.poll() is not None:
                    break
        finally:
            selector.close()
        try:  # stdout closed: the process is exiting, get its code
            code = self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        self._kill()
        raise FakeStripeError(
            (
                f"fakestripe exited with code {code}"
                if code is not None
                else f"fakestripe did not print its URL within {self.startup_timeout:.1f} s"
            )
            + " while starting; its stderr:\n"
            + self.log_tail()
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self._stderr_path or "", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def _kill(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        if proc.stdout is not None:
            proc.stdout.close()

    def stop(self) -> None:
        """SIGTERM (the server writes its state), SIGKILL after 5 s; removes an own temp dir."""
        self._kill()
        self.url = None
        if self._own_state_dir and self.state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None

    def restart(self) -> FakeStripe:
        """Stop and start again on the same port with the same state directory."""
        self._kill()
        return self.start()

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- _config helpers ---------------------------------------------------------------------
    def _call(self, method: str, path: str, data: dict | None = None):
        if not self.is_running() or self.url is None:
            raise FakeStripeError(
                "fakestripe is not running"
                + ("; its stderr:\n" + self.log_tail() if self._stderr_path else "")
            )
        body = headers = None
        if data is not None:
            body = json.dumps(data).encode()
            headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            raise FakeStripeError(f"{method} {path}: HTTP {e.code} {e.read()[:500]!r}") from e
        return json.loads(raw) if raw else None

    def register_webhook(
        self, url: str, secret: str, events: list[str] | None = None, name: str = "app"
    ) -> None:
        """Deliver events (all, or only ``events``) to ``url``, signed with ``secret``."""
        data: dict[str, object] = {"url": url, "secret": secret}
        if events is not None:
            data["events"] = list(events)
        self._call("POST", "/_config/webhooks/" + urllib.parse.quote(name, safe=""), data)

    def unregister_webhook(self, name: str = "app") -> None:
        self._call("DELETE", "/_config/webhooks/" + urllib.parse.quote(name, safe=""))

    def requests_log(self) -> list[dict]:
        """``[{"method", "path", "idempotency_key", "status"}]`` of ``/v1/`` calls since the
        last ``clear_requests_log()``."""
        return self._call("GET", "/_config/requests")

    def clear_requests_log(self) -> None:
        self._call("DELETE", "/_config/requests")

    def inject_fault(
        self,
        path: str,
        *,
        method: str = "POST",
        action: str = "error",
        status: int = 500,
        count: int = 1,
    ) -> None:
        """Make the next ``count`` ``method path*`` requests fail: ``error`` answers ``status``
        without acting; ``drop`` acts, then closes the connection without an answer."""
        self._call(
            "POST",
            "/_config/faults",
            {"method": method, "path": path, "action": action, "status": status, "count": count},
        )

    def deliveries(self) -> list[dict]:
        """Webhook delivery attempts: ``{"event", "type", "target", "status", "attempts", ...}``."""
        return self._call("GET", "/_config/deliveries")

    def reset(self) -> None:
        """Forget every Stripe object (webhook registrations and the request log are kept)."""
        self._call("DELETE", "/_config/data")

    def renew(self, subscription_id: str) -> dict:
        return self._call("POST", f"/_config/subscriptions/{subscription_id}/renew")

    def fail_renewal(self, subscription_id: str) -> dict:
        return self._call("POST", f"/_config/subscriptions/{subscription_id}/fail_renewal")

    def retry_invoice(self, invoice_id: str) -> dict:
        """A Smart Retry of an open subscription invoice now (off session, default card)."""
        return self._call("POST", f"/_config/invoices/{invoice_id}/retry")

    def set_public_url(self, public_url: str | None) -> str:
        """Build hosted URLs (invoice page/PDF, portal) on ``public_url`` from now on (None: the
        stand-in's own URL); kept across ``restart()``. Returns the base in use."""
        answer = self._call("POST", "/_config/public_url", {"public_url": public_url})
        self.public_url = public_url
        return answer["base"]

    def expire_incomplete(self, subscription_id: str) -> dict:
        return self._call("POST", f"/_config/subscriptions/{subscription_id}/expire_incomplete")

    def trial_will_end(self, subscription_id: str) -> dict:
        """``customer.subscription.trial_will_end`` now (Stripe: three days before the end)."""
        return self._call("POST", f"/_config/subscriptions/{subscription_id}/trial_will_end")

    def backdate(self, subscription_id: str, seconds: int) -> dict:
        """Move the subscription's current period ``seconds`` into the past (a half-used month)."""
        return self._call(
            "POST", f"/_config/subscriptions/{subscription_id}/backdate", {"seconds": seconds}
        )

    def end_trial(self, subscription_id: str) -> dict:
        """The trial ends now: charged, cancelled or paused as Stripe would (the subscription)."""
        return self._call("POST", f"/_config/subscriptions/{subscription_id}/end_trial")

    def authenticate(self, payment_intent_id: str, client_secret: str, success: bool = True):
        """Answer the 3-D Secure challenge of a ``requires_action`` PaymentIntent, or of a
        SetupIntent (a ``seti_...`` id), as the Stripe.js stand-in's box does."""
        kind = "setup_intents" if payment_intent_id.startswith("seti_") else "payment_intents"
        path = f"/v1/{kind}/{payment_intent_id}/_authenticate?success=" + (
            "true" if success else "false"
        )
        data = {"key": self.publishable_key, "client_secret": client_secret}
        if self.url is None:
            raise FakeStripeError("fakestripe is not running")
        request = urllib.request.Request(
            self.url + path, data=json.dumps(data).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
