"""Settings for Sync Status.

Every setting a deployment may change is read from the environment; the
defaults give the embedded mode (SQLite file, Celery tasks run in-process) so
that a fresh checkout runs with no server at all. README.md lists them all.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

# A fixed key is only acceptable for the embedded demo: `check --deploy` fails
# on it (dashboard/checks.py), so production must set SECRET_KEY.
EMBEDDED_SECRET_KEY = "insecure-embedded-only-key-set-SECRET_KEY-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY") or EMBEDDED_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

if not DEBUG:
    # Production is served over HTTPS, behind a proxy that terminates TLS and
    # says so in X-Forwarded-Proto. `manage.py check --deploy` passes as is.
    # A plain-HTTP request to this machine itself is told what to set for a
    # local run (dashboard/web/middleware.py), not sent to an https:// nobody serves.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Health checks come from inside the network, over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "dashboard",
]

MIDDLEWARE = [
    "dashboard.web.middleware.plain_http_explained",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dashboard.web.middleware.user_time_zone",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "syncstatus.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Widgets render with the project's templates (templates/dashboard/widgets/).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

WSGI_APPLICATION = "syncstatus.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE: a writing transaction takes the write lock at BEGIN, so two
        # writers queue on the busy timeout instead of failing with "database is
        # locked" when one tries to upgrade its read lock.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests that start a real worker or web process must share the test
    # database with them, which an in-memory database cannot do; one file per
    # test run, so that two runs side by side do not trample each other.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Compressed by WhiteNoise, which serves them from gunicorn (collectstatic in
# the image). No manifest: a page must not fail for a file not yet collected.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "line"},
        "null": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Celery's "Task ... succeeded" repeats what ingestion already logs.
    "loggers": {
        "celery.app.trace": {"level": "WARNING"},
        # Apprise's own lines may quote a destination's URL: the alerts log
        # what went wrong themselves, with its secrets masked.
        "apprise": {"handlers": ["null"], "propagate": False},
    },
}

# --- Sync Status ------------------------------------------------------------

SYNC_STATUS_RETENTION_DAYS = int(os.environ.get("SYNC_STATUS_RETENTION_DAYS", "5"))
# "Lead" or "Person": how the lead family of objects is labelled everywhere.
SYNC_STATUS_LEAD_LABEL = os.environ.get("SYNC_STATUS_LEAD_LABEL", "Lead")
SYNC_STATUS_MAX_REPORT_BYTES = 10 * 1024 * 1024
# A report still "accepted" this long after it was received is applied by the
# sweep: its task was lost (broker down when it was sent, Redis restarted,
# worker killed).
SYNC_STATUS_SWEEP_SECONDS = int(os.environ.get("SYNC_STATUS_SWEEP_SECONDS", "60"))
SYNC_STATUS_SWEEP_GRACE_SECONDS = int(os.environ.get("SYNC_STATUS_SWEEP_GRACE_SECONDS", "30"))
# Attempts at applying one report before it is marked failed.
SYNC_STATUS_APPLY_MAX_ATTEMPTS = int(os.environ.get("SYNC_STATUS_APPLY_MAX_ATTEMPTS", "5"))
# Small reports waiting that a worker applies together, in one transaction.
SYNC_STATUS_APPLY_BATCH = int(os.environ.get("SYNC_STATUS_APPLY_BATCH", "50"))
# Reports one ingest token may post per minute; more get 429 and Retry-After.
# An engine sends a few per cycle: the limit only stops a runaway sender.
SYNC_STATUS_INGEST_RATE_PER_MINUTE = int(
    os.environ.get("SYNC_STATUS_INGEST_RATE_PER_MINUTE", "600")
)
# Failed logins allowed per username and address before the login form
# refuses to check passwords for the rest of the lockout period.
SYNC_STATUS_LOGIN_FAILURES_ALLOWED = int(os.environ.get("SYNC_STATUS_LOGIN_FAILURES_ALLOWED", "5"))
SYNC_STATUS_LOGIN_LOCKOUT_SECONDS = int(os.environ.get("SYNC_STATUS_LOGIN_LOCKOUT_SECONDS", "900"))
# The sync is stale after this many minutes without a new cycle; unset, after
# three of its usual intervals (at least 15 minutes).
SYNC_STATUS_STALE_MINUTES = (
    int(os.environ["SYNC_STATUS_STALE_MINUTES"])
    if os.environ.get("SYNC_STATUS_STALE_MINUTES")
    else None
)
# A step still running this many minutes after it started is flagged as stuck.
SYNC_STATUS_STUCK_MINUTES = int(os.environ.get("SYNC_STATUS_STUCK_MINUTES", "60"))
# An open Sync Status page (page 1, default order) asks for what changed this
# often; 0 turns it off (docs/dashboard.md).
SYNC_STATUS_LIVE_SECONDS = int(os.environ.get("SYNC_STATUS_LIVE_SECONDS", "15"))

# Alerts (docs/alerts.md). The address the links in notices start with, such
# as https://sync.example.com (no trailing slash needed).
SYNC_STATUS_BASE_URL = os.environ.get("SYNC_STATUS_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# While an incident stays open, at most one digest per this many minutes.
SYNC_STATUS_ALERT_DIGEST_MINUTES = int(os.environ.get("SYNC_STATUS_ALERT_DIGEST_MINUTES", "60"))
# A notice that could not be sent is tried again after this many seconds,
# doubling each time up to an hour, and given up after so many attempts.
SYNC_STATUS_ALERT_RETRY_SECONDS = int(os.environ.get("SYNC_STATUS_ALERT_RETRY_SECONDS", "30"))
SYNC_STATUS_ALERT_MAX_ATTEMPTS = int(os.environ.get("SYNC_STATUS_ALERT_MAX_ATTEMPTS", "10"))
# A notice a worker took this long ago without recording it as sent is
# presumed lost with its worker, and sent again.
SYNC_STATUS_ALERT_SEND_LEASE_SECONDS = int(
    os.environ.get("SYNC_STATUS_ALERT_SEND_LEASE_SECONDS", "300")
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "sync-status@localhost")

# --- Celery -----------------------------------------------------------------

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
# No broker configured: the embedded mode, where tasks run in-process.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The ingest endpoint must answer 202 at once even when Redis is down: a report
# whose task could not be sent is stored and picked up by the sweep.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
# Celery closes the database connection around every task unless told to
# reuse it: a new connection for every report, a tenth of a small report's
# apply (measured with py-spy on a worker). Closed every 500 tasks at most;
# syncstatus/celery.py drops a broken one before each task.
CELERY_DB_REUSE_MAX = 500
CELERY_BEAT_SCHEDULE = {
    "purge-expired": {"task": "dashboard.tasks.purge_expired", "schedule": 3600.0},
    "sweep-pending-reports": {
        "task": "dashboard.tasks.sweep_pending_reports",
        "schedule": float(SYNC_STATUS_SWEEP_SECONDS),
    },
    "expire-error-groups": {"task": "dashboard.tasks.expire_error_groups", "schedule": 60.0},
    # sync_stale rules, and the digests of open incidents.
    "evaluate-alerts": {"task": "dashboard.tasks.evaluate_alerts", "schedule": 60.0},
    # Notices left unsent: their task was lost, or their worker died sending.
    "sweep-unsent-notices": {
        "task": "dashboard.tasks.sweep_unsent_notices",
        "schedule": float(SYNC_STATUS_SWEEP_SECONDS),
    },
}

# --- Cache ------------------------------------------------------------------

# Rate limits and login throttling count in the cache, so that all web
# processes share one count: Redis in production, this process's memory in the
# embedded mode (a single process). Short timeouts: a Redis outage must not
# hold up the page or ingestion, which then go on without limits.
CACHE_REDIS_URL = os.environ.get("REDIS_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "syncstatus"),
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
    if CACHE_REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
