"""COS settings, read from environment variables (django-environ).

Every variable is documented in README.md with its default. The defaults suit `make run`:
SQLite, Celery tasks run eagerly in-process, no external services.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable (a long random string); "
            "it may only be left out when DEBUG=true (local development)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-debug"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "cos",
    "marketplace",
    "workorders",
    "provisioning",
    "billing",
    "wholesale",
    "tmf",
    "assurance",
    "simulation",
]

MIDDLEWARE = [
    "cos.middleware.RefuseNulBytesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last: turns a locked-out login into the lockout page (cos.views.locked_out)
    "axes.middleware.AxesMiddleware",
]

# Logins (portal, admin) are throttled: after AXES_FAILURE_LIMIT wrong passwords for one username from one address,
# that pair is locked out for AXES_COOLOFF_MINUTES; a right password resets the count.
# A login is the username or the e-mail address, in any letter case (cos.auth).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "cos.auth.UsernameOrEmailBackend"]
AXES_USERNAME_CALLABLE = "cos.auth.login_name"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "cos.views.locked_out"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)  # proxies in front that set X-Forwarded-For
AXES_VERBOSE = False

ROOT_URLCONF = "cos.urls"
WSGI_APPLICATION = "cos.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cos.context_processors.site",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the dev server and the event sweeper share the file.
    # IMMEDIATE transactions take the write lock when they begin, so concurrent writers wait their turn (the busy
    # timeout) instead of failing with "database is locked" half-way through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Transport security (production defaults when DEBUG is off; each can be set from the environment) ----------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Behind a proxy that terminates TLS: SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
_proxy_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
SECURE_PROXY_SSL_HEADER = tuple(_proxy_header) if len(_proxy_header) == 2 else None
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# The health check answers plain HTTP probes from the load balancer.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en-us"
# The languages a subscriber's messages are written in (templates/messages/<code>/), and a new customer's.
LANGUAGES = [("sv", "Svenska"), ("en", "English")]
COS_DEFAULT_LANGUAGE = env.str("COS_DEFAULT_LANGUAGE", default="sv")
if COS_DEFAULT_LANGUAGE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"COS_DEFAULT_LANGUAGE must be one of {', '.join(dict(LANGUAGES))}.")
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Evidence files (photos, signatures) are never served from MEDIA_URL: /field/evidence/<id>/ checks who asks, then
# streams the file, or hands it to the web server in front: "x-accel-redirect" (nginx: an internal location at
# EVIDENCE_SENDFILE_PREFIX aliased to MEDIA_ROOT) or "x-sendfile" (Apache mod_xsendfile, lighttpd).
EVIDENCE_SENDFILE = env.str("EVIDENCE_SENDFILE", default="")
EVIDENCE_SENDFILE_PREFIX = env.str("EVIDENCE_SENDFILE_PREFIX", default="/protected-media/")
if EVIDENCE_SENDFILE not in ("", "x-accel-redirect", "x-sendfile"):
    raise ImproperlyConfigured("EVIDENCE_SENDFILE must be empty, x-accel-redirect or x-sendfile.")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# What every page's footer shows (cos.context_processors.site): the operator, its contact, its terms and privacy.
SITE_OPERATOR_NAME = env.str("SITE_OPERATOR_NAME", default="COS fiber")
# Where the site is reached from outside: the links in messages to subscribers (e-mail, SMS) start with it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# The time zone of times shown to customers where no marketplace gives its own (the portal's messages).
SITE_TIME_ZONE = env.str("SITE_TIME_ZONE", default="Europe/Stockholm")
# Wholesale: issue the month's statements as soon as the month-end run has built them (else finance issues them).
WHOLESALE_ISSUE_AT_MONTH_END = env.bool("WHOLESALE_ISSUE_AT_MONTH_END", default=False)
# The board (/ops/board/): each metric's target and alert level, overriding the product's defaults (listed in
# README): JSON such as {"active_unbilled": {"target": "0.005", "alert": "0.02"}} (ratios as fractions).
BOARD_THRESHOLDS = env.json("BOARD_THRESHOLDS", default={})
# seed_demo's history: months of simulated life before today (make run sets them; 0 subscribers: none).
DEMO_HISTORY_SUBSCRIBERS = env.int("DEMO_HISTORY_SUBSCRIBERS", default=0)
DEMO_HISTORY_MONTHS = env.int("DEMO_HISTORY_MONTHS", default=3)
SITE_CONTACT_EMAIL = env.str("SITE_CONTACT_EMAIL", default="support@cos.local")
SITE_CONTACT_PHONE = env.str("SITE_CONTACT_PHONE", default="+46 21 10 20 30")
SITE_TERMS_URL = env.str("SITE_TERMS_URL", default="/terms/")
SITE_PRIVACY_URL = env.str("SITE_PRIVACY_URL", default="/privacy/")
# A form posted from an expired page (cos.views.csrf_failure): a page that says so and keeps what was typed.
CSRF_FAILURE_VIEW = "cos.views.csrf_failure"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal"
LOGOUT_REDIRECT_URL = "home"


# --- Celery ------------------------------------------------------------------------------
# The cache holds the API's rate-limit counters: shared in Redis when there is one, per process otherwise.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env.str("REDIS_URL", default="")}
        if env.str("REDIS_URL", default="")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Without REDIS_URL the tasks run eagerly in-process (the embedded default).
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 1,
    # A task taken by a worker that died (acks_late) is delivered again after this many seconds.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
    # Seconds between the worker's looks for such tasks (kombu's default: 10).
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
}
CELERY_BEAT_SCHEDULE = {
    "events-sweep": {
        "task": "cos.tasks.events_sweep_task",
        "schedule": env.float("EVENTS_SWEEP_SECONDS", default=15.0),
    },
    "provisioning-jobs-sweep": {
        "task": "provisioning.tasks.provisioning_jobs_sweep_task",
        "schedule": env.float("EVENTS_SWEEP_SECONDS", default=15.0),
    },
    "billing-daily": {
        "task": "billing.tasks.billing_daily_task",
        "schedule": crontab(hour=env.int("BILLING_RUN_HOUR", default=1), minute=0),
    },
    "settlement-month-end": {
        "task": "wholesale.tasks.settlement_month_end_task",
        "schedule": crontab(day_of_month=1, hour=env.int("SETTLEMENT_RUN_HOUR", default=3), minute=0),
    },
    "invoices-finalize-due": {
        "task": "billing.tasks.invoices_finalize_due_task",
        "schedule": env.float("INVOICE_FINALIZE_SECONDS", default=60.0),
    },
    "payments-sweep": {
        "task": "billing.tasks.payments_sweep_task",
        "schedule": env.float("PAYMENTS_SWEEP_SECONDS", default=60.0),
    },
    "contract-sync": {
        "task": "provisioning.tasks.contract_sync_task",
        "schedule": env.float("CONTRACT_SYNC_SECONDS", default=3600.0),
    },
    "webhooks-sweep": {
        "task": "cos.tasks.webhooks_sweep_task",
        "schedule": env.float("EVENTS_SWEEP_SECONDS", default=15.0),
    },
    "messages-retry": {
        "task": "cos.tasks.messages_retry_due_task",
        "schedule": env.float("EVENTS_SWEEP_SECONDS", default=15.0),
    },
    "board-check": {
        "task": "assurance.tasks.board_check_task",
        "schedule": env.float("BOARD_CHECK_SECONDS", default=3600.0),
    },
    "lifecycle-due": {
        "task": "marketplace.tasks.lifecycle_due_task",
        "schedule": env.float("LIFECYCLE_SWEEP_SECONDS", default=900.0),
    },
}

# --- Event outbox ------------------------------------------------------------------------
# An event not dispatched within this many seconds after it was written is picked up by the sweep.
EVENTS_DISPATCH_GRACE_SECONDS = env.int("EVENTS_DISPATCH_GRACE_SECONDS", default=30)
# A failed handler run is retried with exponential backoff (base * 2**attempt, capped) up to this many attempts.
EVENTS_MAX_ATTEMPTS = env.int("EVENTS_MAX_ATTEMPTS", default=8)
EVENTS_RETRY_BASE_SECONDS = env.int("EVENTS_RETRY_BASE_SECONDS", default=10)
EVENTS_RETRY_MAX_SECONDS = env.int("EVENTS_RETRY_MAX_SECONDS", default=3600)

# --- Webhooks to providers (cos.webhooks) --------------------------------------------------------
# A try waits this long for the receiver's answer.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# A failed try is tried again after base * 2**(tries - 1) seconds, at most the max, for this long after the first.
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=30)
WEBHOOK_RETRY_MAX_SECONDS = env.int("WEBHOOK_RETRY_MAX_SECONDS", default=6 * 3600)
WEBHOOK_RETRY_FOR_SECONDS = env.int("WEBHOOK_RETRY_FOR_SECONDS", default=3 * 86400)
# An endpoint no try has got through to for this long is disabled (its provider and the operator are told).
WEBHOOK_DISABLE_AFTER_SECONDS = env.int("WEBHOOK_DISABLE_AFTER_SECONDS", default=3 * 86400)
# After a rotation the old secret signs too for this long (the default; a rotation may ask for 0 up to the max).
WEBHOOK_SECRET_OVERLAP_SECONDS = env.int("WEBHOOK_SECRET_OVERLAP_SECONDS", default=86400)
WEBHOOK_SECRET_OVERLAP_MAX_SECONDS = env.int("WEBHOOK_SECRET_OVERLAP_MAX_SECONDS", default=7 * 86400)
# At most this many notifications in one replay of a time range.
WEBHOOK_REPLAY_MAX = env.int("WEBHOOK_REPLAY_MAX", default=10000)
# Production: endpoints must be https to a public host. Development and tests also reach http and loopback.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=DEBUG)

# --- REST API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cos.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "cos.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "cos.api.pagination.Pagination",
    "DEFAULT_PARSER_CLASSES": [
        "cos.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "cos.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["cos.api.throttling.ProviderRateThrottle"],
}
# API rate limits (cos.api.throttling): calls per caller, and wrong keys per client address before a lockout.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="1200/min")
API_BAD_KEY_LIMIT = env.int("API_BAD_KEY_LIMIT", default=20)
API_BAD_KEY_WINDOW_SECONDS = env.int("API_BAD_KEY_WINDOW_SECONDS", default=600)
SPECTACULAR_SETTINGS = {
    "TITLE": "COS provider API",
    "DESCRIPTION": (
        "Open-access fiber marketplace: the service provider's API, and webhooks (`/api/v1/webhooks/`).\n\n"
        "The same domain speaks TM Forum's Open APIs v4 under `/tmf-api/`, each documented from its official "
        "specification: [TMF620 Product Catalog](/tmf-api/docs/TMF620/), "
        "[TMF679 Product Offering Qualification](/tmf-api/docs/TMF679/), "
        "[TMF622 Product Ordering](/tmf-api/docs/TMF622/), [TMF638 Service Inventory](/tmf-api/docs/TMF638/), "
        "[TMF678 Customer Bill](/tmf-api/docs/TMF678/)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get their own components: read-only fields (id, created_at) are no input.
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CustomerTypeEnum": "cos.choices.CustomerType",
        "AddressStatusEnum": "cos.choices.AddressStatus",
        "BuildingTypeEnum": "cos.choices.BuildingType",
        "OrderStatusEnum": "marketplace.choices.OrderStatus",
        "ProductCategoryEnum": "marketplace.choices.ProductCategory",
        "PromotionKindEnum": "marketplace.choices.PromotionKind",
        "InstallSlotEnum": "marketplace.choices.InstallSlot",
        "CancellationReasonEnum": "marketplace.choices.CancellationReason",
        "LifecycleReasonEnum": "marketplace.choices.LifecycleReason",
        "SubscriptionStatusEnum": "marketplace.choices.SubscriptionStatus",
        "PeriodCauseEnum": "provisioning.choices.PeriodCause",
        "WebhookEndpointStatusEnum": "cos.choices.WebhookEndpointStatus",
        "WebhookDeliveryStatusEnum": "cos.choices.WebhookDeliveryStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_line_refusals": {"()": "cos.logs.OneLineRefusals"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["one_line_refusals"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Field work --------------------------------------------------------------------------
# GPON receive power at the ONT passes between these (dBm); readings outside the valid range are refused.
FIELD_LIGHT_LEVEL_PASS_MIN_DBM = env.float("FIELD_LIGHT_LEVEL_PASS_MIN_DBM", default=-27.0)
FIELD_LIGHT_LEVEL_PASS_MAX_DBM = env.float("FIELD_LIGHT_LEVEL_PASS_MAX_DBM", default=-8.0)
FIELD_LIGHT_LEVEL_VALID_MIN_DBM = -50.0
FIELD_LIGHT_LEVEL_VALID_MAX_DBM = 10.0
# A speed test passes at this share of the ordered speed (download and upload).
FIELD_SPEED_TEST_PASS_SHARE = env.float("FIELD_SPEED_TEST_PASS_SHARE", default=0.8)
FIELD_PHOTO_MAX_BYTES = env.int("FIELD_PHOTO_MAX_BYTES", default=10 * 1024 * 1024)
# Decoding costs memory by the pixel (about 4 bytes each): a phone's 50-megapixel photo is the most taken.
FIELD_PHOTO_MAX_PIXELS = env.int("FIELD_PHOTO_MAX_PIXELS", default=50_000_000)
# Work orders are created for this many addresses per Celery task when an area goes into deployment.
WORKORDERS_CHUNK_SIZE = env.int("WORKORDERS_CHUNK_SIZE", default=2000)

# --- Provisioning: element managers (defaults point at the simulator: run_olt_simulator --port 8101) ----
PROVISIONING_TIMEOUT_SECONDS = env.float("PROVISIONING_TIMEOUT_SECONDS", default=5.0)
PROVISIONING_ADTRAN_URL = env.str("PROVISIONING_ADTRAN_URL", default="http://127.0.0.1:8101/adtran")
PROVISIONING_ADTRAN_API_KEY = env.str("PROVISIONING_ADTRAN_API_KEY", default="simulator")
PROVISIONING_ADTRAN_TENANT = env.str("PROVISIONING_ADTRAN_TENANT", default="cos")
PROVISIONING_NOKIA_URL = env.str("PROVISIONING_NOKIA_URL", default="http://127.0.0.1:8101/nokia")
PROVISIONING_NOKIA_USER = env.str("PROVISIONING_NOKIA_USER", default="simulator")
PROVISIONING_NOKIA_PASSWORD = env.str("PROVISIONING_NOKIA_PASSWORD", default="simulator")
PROVISIONING_CALIX_URL = env.str("PROVISIONING_CALIX_URL", default="http://127.0.0.1:8101/calix")
PROVISIONING_CALIX_USER = env.str("PROVISIONING_CALIX_USER", default="simulator")
PROVISIONING_CALIX_PASSWORD = env.str("PROVISIONING_CALIX_PASSWORD", default="simulator")
# A suspended service (e.g. for non-payment) is moved to this profile at this speed until it is resumed.
PROVISIONING_SUSPENDED_PROFILE = env.str("PROVISIONING_SUSPENDED_PROFILE", default="suspended")
PROVISIONING_SUSPENDED_MBPS = env.int("PROVISIONING_SUSPENDED_MBPS", default=1)
PROVISIONING_MAX_ATTEMPTS = env.int("PROVISIONING_MAX_ATTEMPTS", default=6)
PROVISIONING_RETRY_BASE_SECONDS = env.int("PROVISIONING_RETRY_BASE_SECONDS", default=15)
# A job found running longer than this (its worker was lost) is taken over by the next delivery.
PROVISIONING_JOB_LEASE_SECONDS = env.int("PROVISIONING_JOB_LEASE_SECONDS", default=120)
# The contract sync leaves a ledger period or billing schedule younger than this alone (its invoice is on its way).
LEDGER_CHECK_GRACE_SECONDS = env.int("LEDGER_CHECK_GRACE_SECONDS", default=900)

# --- Payments ----------------------------------------------------------------------------
# "offline" (no network, deterministic test numbers; the default) or "stripe" (set when STRIPE_SECRET_KEY is).
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
PAYMENT_GATEWAY = env.str("PAYMENT_GATEWAY", default="stripe" if STRIPE_SECRET_KEY else "offline")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
# The signing secret of the webhook endpoint (whsec_...) that posts to /billing/stripe/webhook/.
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Events older than this many seconds are refused (replayed captures).
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
# Where the SDK sends API calls and where the portal loads Stripe.js from (a Stripe-compatible test server).
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=20.0)
# Idempotency keys sent to the gateway start with this: give each installation sharing a Stripe account its own.
PAYMENT_KEY_PREFIX = env.str("PAYMENT_KEY_PREFIX", default="cos")
OFFLINE_WEBHOOK_SECRET = env.str("OFFLINE_WEBHOOK_SECRET", default="offline-webhook-secret")
# A charge whose outcome is unknown (gateway timeout) is asked again after this many seconds, with the same
# idempotency key; a debit still processing is looked up after PAYMENTS_SYNC_AFTER_SECONDS (a lost webhook).
PAYMENTS_RESUBMIT_AFTER_SECONDS = env.int("PAYMENTS_RESUBMIT_AFTER_SECONDS", default=60)
PAYMENTS_SYNC_AFTER_SECONDS = env.int("PAYMENTS_SYNC_AFTER_SECONDS", default=3600)
PAYMENTS_MAX_SUBMIT_ERRORS = env.int("PAYMENTS_MAX_SUBMIT_ERRORS", default=10)
# A subscription ended this long ago without a verified deactivation (refused, lost) stops billing at its end anyway.
BILLING_STOP_WAIT_SECONDS = env.int("BILLING_STOP_WAIT_SECONDS", default=86400)

# --- Messages to subscribers (cos.notifications) ---------------------------------------------
# Where messages are e-mailed, e.g. smtp+tls://user:password@smtp.example.net:587 (default: printed).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{SITE_OPERATOR_NAME} <{SITE_CONTACT_EMAIL}>")
# A mail server that does not answer within this many seconds fails the try (it is tried again later).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
# Where SMS go: console:// (printed), file:///path/sms.jsonl (one JSON line each), locmem:// (kept in
# cos.sms.outbox, for tests) or 46elks://API_USER:API_PASSWORD@api.46elks.com (46elks+http:// for a local fake).
SMS_URL = env.str("SMS_URL", default="console://")
if SMS_URL.partition("://")[0].lower() not in ("console", "file", "locmem", "46elks", "46elks+http", "46elks+https"):
    raise ImproperlyConfigured("SMS_URL must start with console://, file://, locmem:// or 46elks://.")
SMS_FROM = env.str("SMS_FROM", default="COS")
SMS_TIMEOUT = env.int("SMS_TIMEOUT", default=20)
# The country whose numbers may be written without a country code (0701234567 is +46701234567).
SMS_DEFAULT_COUNTRY = env.str("SMS_DEFAULT_COUNTRY", default="SE")
# A message being sent is left to its sender this long; past it (the sender died) another may send it.
MESSAGES_SEND_LEASE_SECONDS = env.int("MESSAGES_SEND_LEASE_SECONDS", default=300)
