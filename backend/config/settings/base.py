"""Settings shared by every environment. Secrets have no default here."""

from datetime import timedelta
from pathlib import Path

from config.env import ROOT_DIR, env
from config.schema_paths import NON_DRF_PATHS

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Local stand-ins (offline Stripe, dev LinkedIn) are allowed only where this is True:
# the local and test settings. Production never sets it (billing/checks.py refuses them).
DEVTOOLS_ALLOWED = False

VAR_DIR = Path(env.str("VAR_DIR", default=str(ROOT_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    # Swagger UI's files, served by this app (/static/), not from a CDN.
    "drf_spectacular_sidecar",
    "social_django",
    # Admin sign-in lockout (AXES_* below).
    "axes",
    "djstripe",
    "accounts",
    "billing",
    "filings",
    "quotas",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Sign-in failures end at /login?error=<code>, never at a 500 page.
    "accounts.middleware.SocialAuthErrorRedirectMiddleware",
    # Turns a locked-out admin sign-in into a 429 (last, as django-axes asks).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "social_django.context_processors.backends",
            ],
        },
    },
]


def _database() -> dict:
    """DATABASE_URL when set (PostgreSQL in production), else SQLite under var/."""
    url = env.str("DATABASE_URL", default="")
    if url:
        db = env.db_url_config(url)
        db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
        db["CONN_HEALTH_CHECKS"] = True
        return db
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db.sqlite3",
        # Concurrent webhook deliveries and the Celery worker write at the same time:
        # take the write lock at BEGIN and wait for it instead of failing at once.
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


DATABASES = {"default": _database()}

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    # Shared by every process of the embedded default (runserver + Celery worker),
    # unlike the per-process local-memory cache. `manage.py createcachetable` makes it.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The built web app (frontend/dist/spa). Django serves it only where SERVE_SPA is on
# (make run); in production NGINX serves it.
SPA_BUILD_DIR = Path(env.str("SPA_BUILD_DIR", default=str(ROOT_DIR / "frontend" / "dist" / "spa")))
SERVE_SPA = False
STATIC_ROOT = VAR_DIR / "static"

# --- Sessions and CSRF (the browser app) -------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# The SPA reads the csrftoken cookie and sends it back as X-CSRFToken.
CSRF_COOKIE_HTTPONLY = False

# --- Django REST framework ---------------------------------------------------------
REST_FRAMEWORK = {
    # The JWT class comes first: its WWW-Authenticate header makes DRF answer 401
    # (not 403) to a request that carries no credentials at all.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.APIJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Open SEC Data API",
    "DESCRIPTION": "SEC Form 13F holdings, accounts and the Premium subscription.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "APPEND_PATHS": NON_DRF_PATHS,
    # /api/docs/ loads Swagger UI from this app's static files (drf-spectacular-sidecar) and its
    # start-up script from a URL of its own (SpectacularSwaggerSplitView): nothing inline,
    # nothing from a CDN, so the strict CSP of nginx/ holds there too.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would send the schema's URL to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- JWT for API scripts -----------------------------------------------------------
# HS256 only: tokens are issued and verified by this service alone. Any other `alg`
# in a token header (including "none") is refused before and by the decoder.
JWT_ALLOWED_ALGORITHMS = ("HS256",)
# At least 32 bytes (accounts.E003); production refuses to start without it.
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="")
JWT_MIN_KEY_BYTES = 32
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=30)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "ALGORITHM": JWT_ALLOWED_ALGORITHMS[0],
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUDIENCE": env.str("JWT_AUDIENCE", default="opensecdata-api"),
    "ISSUER": env.str("JWT_ISSUER", default="opensecdata"),
    "LEEWAY": 0,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "AUTH_TOKEN_CLASSES": ("rest_framework_simplejwt.tokens.AccessToken",),
    "UPDATE_LAST_LOGIN": False,
}
# Token pairs one signed-in person may have issued (accounts/throttles.py).
ACCOUNTS_RATE_TOKEN_ISSUE = env.str("ACCOUNTS_RATE_TOKEN_ISSUE", default="") or "20/hour"

# --- LinkedIn sign-in (social-auth) ------------------------------------------------
# The address browsers use for this site; `make run` sets it to the real one. The dev
# LinkedIn stand-in (local settings) is served under SITE_URL + "/_dev/oidc".
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out admin sign-in before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "social_core.backends.linkedin.LinkedinOpenIdConnect",
    "django.contrib.auth.backends.ModelBackend",
]
# --- Admin sign-in lockout (django-axes) -------------------------------------------
# /admin/ is the only password sign-in. After AXES_FAILURE_LIMIT failures from one client
# address (whatever the usernames), further attempts from it get 429 (accounts/lockout.py)
# until the cool-off has passed; a success resets the count. Not per username alone: anyone
# could then lock the real admin out from anywhere. `manage.py axes_reset` unlocks at once.
AXES_ONLY_ADMIN_SITE = True
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Lockouts are still logged; only the "AXES: BEGIN" line of every process start goes.
AXES_VERBOSE = False
# The address as our own proxies report it (TRUSTED_PROXIES), like the quotas.
AXES_CLIENT_IP_CALLABLE = "quotas.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.admin_lockout_response"
SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY = env.str(
    "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY", default=""
)
SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET = env.str(
    "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET", default=""
)
SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT = env.str(
    "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT", default="https://www.linkedin.com/oauth"
)
SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SCOPE = ["openid", "profile", "email"]
SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_IGNORE_DEFAULT_SCOPE = True
SOCIAL_AUTH_URL_NAMESPACE = "social"
SOCIAL_AUTH_JSONFIELD_ENABLED = True
SOCIAL_AUTH_REQUESTS_TIMEOUT = env.float("SOCIAL_AUTH_REQUESTS_TIMEOUT", default=10.0)
# Where the SPA lands: after sign-in (unless a same-site `next` was given), and on failure
# with ?error=<a sentence> (accounts.middleware).
SOCIAL_AUTH_LOGIN_REDIRECT_URL = "/account"
SOCIAL_AUTH_LOGIN_ERROR_URL = "/login"
LOGIN_URL = "/login"
# `next` must be on this host (or one listed here, e.g. the SPA's dev server).
SOCIAL_AUTH_SANITIZE_REDIRECTS = True
SOCIAL_AUTH_ALLOWED_REDIRECT_HOSTS = env.list("SOCIAL_AUTH_ALLOWED_REDIRECT_HOSTS", default=[])
# Never re-raise sign-in errors as debug pages, whatever DEBUG says.
SOCIAL_AUTH_RAISE_EXCEPTIONS = False
SOCIAL_AUTH_USER_FIELDS = ["username", "email"]
# Users are identified by LinkedIn's `sub` only; e-mail never links accounts (no
# associate_by_email: an address is not proof of identity across accounts).
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_names",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "accounts.pipeline.social_user_by_sub",
    "accounts.pipeline.generate_username",
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "accounts.pipeline.sync_profile",
)

# --- Stripe ------------------------------------------------------------------------
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
# Comma-separated: during a rotation both the old and the new secret are accepted.
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
# Empty = the real https://api.stripe.com. Dev/test point it at the offline stand-in.
STRIPE_API_HOST_OVERRIDE = env.str("STRIPE_API_HOST", default="")
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
# Premium's two prices (billing/plans.py): found by lookup key (made by `manage.py
# create_stripe_data`), unless a fixed price id is set.
STRIPE_PRICE_ID = env.str("STRIPE_PRICE_ID", default="")
STRIPE_PRICE_LOOKUP_KEY = env.str("STRIPE_PRICE_LOOKUP_KEY", default="opensecdata_premium_monthly")
STRIPE_YEARLY_PRICE_ID = env.str("STRIPE_YEARLY_PRICE_ID", default="")
STRIPE_YEARLY_PRICE_LOOKUP_KEY = env.str(
    "STRIPE_YEARLY_PRICE_LOOKUP_KEY", default="opensecdata_premium_yearly"
)
# Days of free trial for a first subscription; 0 = no trials.
BILLING_TRIAL_DAYS = env.int("BILLING_TRIAL_DAYS", default=7)
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
PAST_DUE_GRACE = timedelta(days=env.int("PAST_DUE_GRACE_DAYS", default=3))
# Rate limits of the endpoints that call Stripe (billing/throttling.py), "<n>/<minute|hour|day>".
# An empty value (e.g. a blank line passed on by compose's env_file) means the default.
BILLING_RATE_PURCHASE_USER = env.str("BILLING_RATE_PURCHASE_USER", default="") or "30/hour"
BILLING_RATE_PURCHASE_IP = env.str("BILLING_RATE_PURCHASE_IP", default="") or "30/hour"
# sync, cancel, resume, a new SetupIntent, paying an invoice and the portal link share it.
BILLING_RATE_STRIPE_CALLS_USER = env.str("BILLING_RATE_STRIPE_CALLS_USER", default="") or "30/hour"
# The account page's reads that ask Stripe (the card on file, the invoices): a budget of their own.
BILLING_RATE_STRIPE_READS_USER = env.str("BILLING_RATE_STRIPE_READS_USER", default="") or "300/hour"
# Offer Stripe's hosted customer portal (POST /api/stripe/portal-session/, config's "portal"):
# configure it in the Stripe dashboard first (Settings -> Billing -> Customer portal).
BILLING_PORTAL_ENABLED = env.bool("BILLING_PORTAL_ENABLED", default=False)
# Card testing: this many declined cards site-wide within the minutes below pause server-side
# card purchases (payment_method_id) until the window has room again.
BILLING_DECLINE_BRAKE_LIMIT = env.int("BILLING_DECLINE_BRAKE_LIMIT", default=25)
BILLING_DECLINE_BRAKE_MINUTES = env.int("BILLING_DECLINE_BRAKE_MINUTES", default=10)

# dj-stripe reads its own names.
STRIPE_LIVE_MODE = STRIPE_SECRET_KEY.startswith("sk_live_")
STRIPE_TEST_SECRET_KEY = "" if STRIPE_LIVE_MODE else STRIPE_SECRET_KEY
STRIPE_LIVE_SECRET_KEY = STRIPE_SECRET_KEY if STRIPE_LIVE_MODE else ""
if STRIPE_API_HOST_OVERRIDE:
    STRIPE_API_HOST = STRIPE_API_HOST_OVERRIDE
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_USE_NATIVE_JSONFIELD = True

# --- Quotas for the data API -------------------------------------------------------
API_QUOTA_GUEST = env.int("API_QUOTA_GUEST", default=20)
API_QUOTA_FREE = env.int("API_QUOTA_FREE", default=200)
# Addresses/networks of our own reverse proxies (comma-separated). X-Forwarded-For is believed
# only from them (quotas/client_ip.py); empty: never (make run serves browsers directly).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# --- Celery ------------------------------------------------------------------------
from celery.schedules import crontab  # noqa: E402  (kept with the section that uses it)

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    # The embedded broker: a folder shared by Django and the worker, no server. kombu
    # does not create it, and a publish into a missing folder fails: make it here, where
    # every process (runserver, worker, beat, manage.py) configures the Celery app.
    _queue = VAR_DIR / "celery-broker"
    for _folder in (_queue / "out", _queue / "processed", _queue / "control"):
        _folder.mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport with whole-message writes (config/broker.py).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue / "out"),
        "data_folder_out": str(_queue / "out"),
        "processed_folder": str(_queue / "processed"),
        "store_processed": False,
        # Broadcast (pidbox) exchanges; kombu's default is ./control in the working directory.
        "control_folder": str(_queue / "control"),
        # The worker looks for new messages this often. kombu's default, 1 s, made a webhook
        # take ~0.8 s to become an entitlement; at 0.05 s it takes ~35 ms. A look is a listdir
        # of the folder: the idle worker went from 0.07 % to 0.3 % of a core (`make bench`).
        "polling_interval": 0.05,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task not acknowledged within this time is redelivered (worker killed mid-task).
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600),
        # How often a worker looks for such tasks (interval x throttle seconds).
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=6),
        # A publish must not hang the webhook receiver when Redis is gone.
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
    }
# Publishing fails fast instead of retrying: the receiver has stored the event already and
# the sweep re-enqueues it, so Stripe gets its 200 without waiting for the broker.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# celery 5.7.0's consumer, except that Redis dropping while a task runs does not shut the
# worker down (config/worker.py says why).
CELERY_WORKER_CONSUMER = "config.worker:Consumer"
CELERY_TIMEZONE = "UTC"

# Stripe webhook inbox (billing.webhooks / billing.tasks).
# A `received` event older than this has lost its task (broker down, worker lost): re-enqueue.
BILLING_WEBHOOK_SWEEP_AFTER = timedelta(seconds=env.int("BILLING_WEBHOOK_SWEEP_AFTER", default=300))
# A `processing` claim older than this belongs to a worker that died: it may be taken over.
BILLING_WEBHOOK_STALE_AFTER = timedelta(seconds=env.int("BILLING_WEBHOOK_STALE_AFTER", default=900))
# After this many processing attempts an event is `failed` (the task's own retries included).
BILLING_WEBHOOK_MAX_ATTEMPTS = env.int("BILLING_WEBHOOK_MAX_ATTEMPTS", default=10)

# --- E-mail: billing's transactional mails (billing/notifications.py) over SMTP -----------
# `make run` / `make stack` point these at their dev mail server on loopback (tools/devstack);
# production sets its provider's SMTP relay (docs/deploy.md). Unset EMAIL_HOST: mails wait and
# retry, then show as failed in the admin.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env.str("EMAIL_HOST", default="")
# (`or`: an empty value, as compose's env_file passes a blank line, means the default.)
EMAIL_PORT = int(env.str("EMAIL_PORT", default="") or 587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Django waits forever for an SMTP server by default; a hung relay must not hold a worker.
EMAIL_TIMEOUT = int(env.str("EMAIL_TIMEOUT", default="") or 10)
DEFAULT_FROM_EMAIL = (
    env.str("DEFAULT_FROM_EMAIL", default="") or "Open SEC Data <billing@localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A mail whose SMTP delivery failed is tried again after 60 s, 120 s, 240 s... (at most the
# cap), up to the attempts below; then it is `failed` (the admin retries it).
BILLING_EMAIL_MAX_ATTEMPTS = env.int("BILLING_EMAIL_MAX_ATTEMPTS", default=10)
BILLING_EMAIL_RETRY_SECONDS = env.int("BILLING_EMAIL_RETRY_SECONDS", default=60)
BILLING_EMAIL_RETRY_MAX_SECONDS = env.int("BILLING_EMAIL_RETRY_MAX_SECONDS", default=3600)
# A `pending` mail this long past its time has lost its task (broker down): the sweep enqueues it.
BILLING_EMAIL_SWEEP_AFTER = timedelta(seconds=env.int("BILLING_EMAIL_SWEEP_AFTER", default=120))
# A `sending` claim this old belongs to a worker that died mid-send: the sweep marks it `failed`
# (it may have gone out; never sent twice by itself — the admin's Retry decides).
BILLING_EMAIL_STALE_AFTER = timedelta(seconds=env.int("BILLING_EMAIL_STALE_AFTER", default=600))

# EDGAR (filings.edgar, manage.py ingest_13f). The SEC's fair-access rules: a User-Agent
# naming a contact ("Open SEC Data admin@example.com"), at most 10 requests/second per
# client: shared by all workers through Redis (EDGAR_REDIS_URL, default REDIS_URL or the
# broker's Redis); without Redis each process keeps the rate by itself.
EDGAR_BASE_URL = env.str("EDGAR_BASE_URL", default="https://www.sec.gov/Archives")
EDGAR_USER_AGENT = env.str("EDGAR_USER_AGENT", default="")
EDGAR_MAX_REQUESTS_PER_SECOND = env.float("EDGAR_MAX_REQUESTS_PER_SECOND", default=10.0)
EDGAR_REDIS_URL = env.str(
    "EDGAR_REDIS_URL",
    default=REDIS_URL or (CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else ""),
)
# First wait after a 429/503 (doubled on each retry, Retry-After honoured), and retries.
EDGAR_BACKOFF_SECONDS = env.float("EDGAR_BACKOFF_SECONDS", default=2.0)
EDGAR_MAX_RETRIES = env.int("EDGAR_MAX_RETRIES", default=5)
# A filing claimed by a worker this long ago without a result: the worker died, take it over.
EDGAR_INGEST_STALE_SECONDS = env.int("EDGAR_INGEST_STALE_SECONDS", default=900)
# Filings per task: one claim, one store transaction and one COPY of holdings for all.
EDGAR_INGEST_CHUNK = env.int("EDGAR_INGEST_CHUNK", default=25)
# A task stores what it fetched at least this often (at the SEC's 10/s a chunk takes a while;
# a worker killed meanwhile has to fetch only that much again).
EDGAR_INGEST_FLUSH_SECONDS = env.float("EDGAR_INGEST_FLUSH_SECONDS", default=5.0)
# The nightly ingest of the current quarter (Celery beat): off unless asked for.
EDGAR_INGEST_BEAT = env.bool("EDGAR_INGEST_BEAT", default=False)

CELERY_BEAT_SCHEDULE = {
    "billing-sweep-webhook-events": {
        "task": "billing.sweep_webhook_events",
        "schedule": timedelta(seconds=env.int("BILLING_WEBHOOK_SWEEP_SECONDS", default=180)),
        "options": {"expires": 120},
    },
    "billing-sweep-emails": {
        "task": "billing.sweep_billing_emails",
        "schedule": timedelta(seconds=env.int("BILLING_EMAIL_SWEEP_SECONDS", default=60)),
        "options": {"expires": 50},
    },
    "billing-reconcile-subscriptions": {
        "task": "billing.reconcile_subscriptions",
        # Nightly, at a quiet hour (UTC).
        "schedule": crontab(hour=3, minute=17),
        "options": {"expires": 3600},
    },
    "accounts-flush-expired-tokens": {
        "task": "accounts.flush_expired_tokens",
        # Nightly: expired refresh tokens and their blacklist entries (accounts/tasks.py).
        "schedule": crontab(hour=4, minute=23),
        "options": {"expires": 3600},
    },
}
if EDGAR_INGEST_BEAT:
    CELERY_BEAT_SCHEDULE["filings-ingest-current-quarter"] = {
        "task": "filings.ingest_current_quarter",
        # Nightly, after EDGAR's index of the day is complete (it is rebuilt around 22:00 ET).
        "schedule": crontab(hour=6, minute=41),
        "options": {"expires": 3600},
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
    },
}
