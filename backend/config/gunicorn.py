"""gunicorn's configuration: the same file in the image (backend/Dockerfile) and `make stack`.

    gunicorn --config config/gunicorn.py config.wsgi:application     (from backend/)

Every value can be tuned from the environment without rebuilding:

===============================  ========================  ======================================
variable                         default                   what
===============================  ========================  ======================================
``GUNICORN_BIND``                ``127.0.0.1:8000``        the address NGINX proxies to
``GUNICORN_WORKERS``             ``2 x CPUs + 1`` (max 8)  worker processes
``GUNICORN_THREADS``             ``1``                     >1 switches to the gthread worker
``GUNICORN_TIMEOUT``             ``30``                    seconds before a stuck worker is killed
``GUNICORN_MAX_REQUESTS``        ``1000``                  recycle a worker after n requests
``GUNICORN_LIMIT_REQUEST_LINE``  ``8190``                  longest request line (NGINX's 8 KiB)
``GUNICORN_ACCESS_LOG``          (off)                     ``-`` for stdout (NGINX logs requests)
``LOG_LEVEL``                    ``INFO``                  gunicorn's own log level
===============================  ========================  ======================================

Loopback by default: only NGINX may reach gunicorn. docker-compose.yml binds ``0.0.0.0:8000``
inside the container, on a network only NGINX joins, and publishes no port.

Sync workers suit this app behind NGINX: NGINX reads whole requests and buffers answers, so
a slow client never holds a worker. Logs are JSON lines with secrets redacted
(config/jsonlog.py), like Django's under the production settings.
"""

import multiprocessing
import os
from pathlib import Path


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


wsgi_app = "config.wsgi:application"
# Loopback unless told otherwise: only NGINX may reach gunicorn (docker-compose.yml binds all
# interfaces of the container, on a network that only NGINX joins, and publishes no port).
bind = [os.environ.get("GUNICORN_BIND") or "127.0.0.1:8000"]
workers = _int("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8))
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
# NGINX keeps upstream connections open (keepalive in its upstream block).
keepalive = _int("GUNICORN_KEEPALIVE", 75)
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = max(1, max_requests // 10)
# The heartbeat file lives in memory where there is /dev/shm (containers: /tmp may be disk).
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108
# The longest request line NGINX passes (its large_client_header_buffers: 8 KiB) is accepted
# here too, so a too-long URL is refused in one place, by NGINX, not by gunicorn's stricter
# default (4094) with a page of its own.
limit_request_line = _int("GUNICORN_LIMIT_REQUEST_LINE", 8190)
# No runtime control socket: nothing needs it, and it would be one more way in.
control_socket_disable = True
# Load the app in each worker: a failing import shows up per worker with its traceback,
# and `kill -HUP` reloads code.
preload_app = False

accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.jsonlog.JsonFormatter"}},
    "handlers": {
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        },
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"level": loglevel.upper(), "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {
            "level": loglevel.upper(),
            "handlers": ["error_console"],
            "propagate": False,
        },
        # With a logconfig_dict gunicorn always emits access lines: drop them unless asked.
        "gunicorn.access": {
            "level": "INFO" if accesslog else "CRITICAL",
            "handlers": ["console"] if accesslog else [],
            "propagate": False,
        },
    },
}
