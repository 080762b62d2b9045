"""Settings: every knob is read once here from HARBOR_* environment variables.

The embedded default (no variables set) is SQLite in WAL mode, filesystem blob
storage and a filesystem Celery broker, all under HARBOR_VAR_DIR (default ./var).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from harbor_site.env import BASE_DIR, env, persistent_secret, var_dir  # noqa: F401 - BASE_DIR is a setting

VAR_DIR = var_dir()

DEBUG = env.bool("HARBOR_DEBUG", default=False)

# --- database -----------------------------------------------------------
DATABASES = {
    "default": env.db_url("HARBOR_DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'harbor.sqlite3'}"),
}
EMBEDDED = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if EMBEDDED:
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the web, worker and beat processes read while one writes;
            # IMMEDIATE takes the write lock up front so writers queue instead of deadlocking.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
    # The same backend with writers queued on a lock, not on SQLite's sleeping busy handler
    # (harbor_site/db/sqlite3/base.py).
    DATABASES["default"]["ENGINE"] = "harbor_site.db.sqlite3"
# Persistent connections: opening one (and, on SQLite, setting its pragmas) per request
# would cost more than the queries of a manifest GET.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("HARBOR_DATABASE_CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend with a health check that sends nothing (harbor_site/db/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "harbor_site.db.postgresql"

# --- secrets ------------------------------------------------------------
SECRET_KEY = env.str("HARBOR_SECRET_KEY", default="")
if not SECRET_KEY:
    if not (EMBEDDED or DEBUG):
        raise ImproperlyConfigured("HARBOR_SECRET_KEY must be set when not running the embedded default")
    SECRET_KEY = persistent_secret("secret_key")

# --- HTTP ---------------------------------------------------------------
HARBOR_BIND = env.str("HARBOR_BIND", default="127.0.0.1:8080")
# The URL clients reach us at (token realm). Empty: derived from each request's Host.
EXTERNAL_URL = env.str("HARBOR_EXTERNAL_URL", default="").rstrip("/")
ALLOWED_HOSTS = env.list("HARBOR_ALLOWED_HOSTS", default=["*"])
CSRF_TRUSTED_ORIGINS = env.list("HARBOR_CSRF_TRUSTED_ORIGINS", default=[EXTERNAL_URL or f"http://{HARBOR_BIND}"])
APPEND_SLASH = False
USE_X_FORWARDED_HOST = env.bool("HARBOR_USE_X_FORWARDED_HOST", default=False)
# How many reverse proxies in front of us append to X-Forwarded-For (0: trust none and record the
# peer address as the source IP of audit records).
HARBOR_TRUSTED_PROXY_HOPS = env.int("HARBOR_TRUSTED_PROXY_HOPS", default=0)
# Bodies of /v2/ requests are streamed by the registry views, never buffered by Django.
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

INSTALLED_APPS = [
    "harbor_site.console.ConsoleAdminConfig",  # django.contrib.admin with the console's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "common",
    "projects",
    "registry",
    "policies",
    "audit",
    "system",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "common.request_id.RequestIdMiddleware",  # Harbor's X-Request-Id on every response
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "common.actor.ActorMiddleware",
]

ROOT_URLCONF = "harbor_site.urls"
WSGI_APPLICATION = "harbor_site.wsgi.application"

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
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env.str("HARBOR_STATIC_ROOT", default=str(VAR_DIR / "static"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- blob storage -------------------------------------------------------
STORAGE_BACKEND = env.str("HARBOR_STORAGE_BACKEND", default="filesystem")
if STORAGE_BACKEND == "filesystem":
    _blob_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.str("HARBOR_STORAGE_ROOT", default=str(VAR_DIR / "storage"))},
    }
elif STORAGE_BACKEND == "s3":
    _blob_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("HARBOR_STORAGE_S3_BUCKET"),
            "endpoint_url": env.str("HARBOR_STORAGE_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("HARBOR_STORAGE_S3_REGION", default=None),
            "access_key": env.str("HARBOR_STORAGE_S3_ACCESS_KEY", default=None),
            "secret_key": env.str("HARBOR_STORAGE_S3_SECRET_KEY", default=None),
            "location": env.str("HARBOR_STORAGE_S3_PREFIX", default="").strip("/"),  # keys: <prefix>/blobs/...
            "file_overwrite": True,
            "querystring_expire": 1200,
        },
    }
else:
    raise ImproperlyConfigured(f"HARBOR_STORAGE_BACKEND must be filesystem or s3, not {STORAGE_BACKEND!r}")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "blobs": _blob_storage,
}
# On object stores, blob GETs answer 307 to a presigned URL instead of streaming through us.
STORAGE_REDIRECT = env.bool("HARBOR_STORAGE_REDIRECT", default=False)

# --- registry -----------------------------------------------------------
REGISTRY_SERVICE = env.str("HARBOR_TOKEN_SERVICE", default="harbor-registry")
TOKEN_ISSUER = env.str("HARBOR_TOKEN_ISSUER", default="harbor-token-issuer")
TOKEN_EXPIRATION = env.int("HARBOR_TOKEN_EXPIRATION", default=1800)  # seconds
TOKEN_PRIVATE_KEY_PATH = env.str("HARBOR_TOKEN_PRIVATE_KEY", default=str(VAR_DIR / "token_key.pem"))
MAX_MANIFEST_SIZE = env.int("HARBOR_MAX_MANIFEST_SIZE", default=4 * 1024 * 1024)
UPLOAD_PURGE_AGE_HOURS = env.float("HARBOR_UPLOAD_PURGE_AGE_HOURS", default=24.0)
# Hours during which a new blob (or untagged artifact, or orphan file) is never collected (Harbor's
# GC_TIME_WINDOW_HOURS). Locks, not this window, keep GC from racing pushes, so 0 is safe: a deleted
# image's space comes back on the next run.
_gc_window = env.str("HARBOR_GC_TIME_WINDOW_HOURS", default="1").strip()
if not (_gc_window.isascii() and _gc_window.isdecimal()):
    raise ImproperlyConfigured(
        f"HARBOR_GC_TIME_WINDOW_HOURS must be a whole number of hours, 0 or more: {_gc_window!r}"
    )
GC_TIME_WINDOW_HOURS = int(_gc_window)
# Successful Basic credential checks are remembered (keyed by a keyed hash, never the secret)
# so that clients sending Basic on every request don't pay a password hash each time.
BASIC_AUTH_CACHE_SECONDS = env.int("HARBOR_BASIC_AUTH_CACHE_SECONDS", default=60)

# --- jobs ---------------------------------------------------------------
CELERY_BROKER_URL = env.str("HARBOR_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # remote control (pidbox) fanout
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-job leaves the message for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- secrets at rest and outbound HTTP (webhooks, replication) ------------
# Key of secrets stored in the database (common/crypto.py); empty: derived from HARBOR_SECRET_KEY.
HARBOR_ENCRYPTION_KEY = env.str("HARBOR_ENCRYPTION_KEY", default="")
HARBOR_ENCRYPTION_OLD_KEYS = env.list("HARBOR_ENCRYPTION_OLD_KEYS", default=[])
# Hosts, IPs, CIDRs (optionally :port) that server-side fetches may reach although private (common/egress.py).
HARBOR_EGRESS_ALLOW = env.list("HARBOR_EGRESS_ALLOW", default=[])
HARBOR_EGRESS_MAX_RESPONSE_BYTES = env.int("HARBOR_EGRESS_MAX_RESPONSE_BYTES", default=64 * 1024)
HARBOR_WEBHOOK_TIMEOUT = env.float("HARBOR_WEBHOOK_TIMEOUT", default=10.0)
HARBOR_WEBHOOK_MAX_RETRIES = env.int("HARBOR_WEBHOOK_MAX_RETRIES", default=5)

# --- bootstrap ----------------------------------------------------------
ADMIN_PASSWORD = env.str("HARBOR_ADMIN_PASSWORD", default="")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "common.api.schema.HarborAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "projects.api.authentication.BasicAuthentication",
        "projects.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["projects.drf.Authorized"],
    "DEFAULT_PAGINATION_CLASS": "common.api.pagination.HarborPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # Never 406: an Accept no renderer matches (Harbor clients send text/plain) gets JSON.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "common.api.negotiation.HarborContentNegotiation",
    "EXCEPTION_HANDLER": "common.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Harbor API",
    "DESCRIPTION": "Harbor's v2.0 REST API, served by harbor-django.",
    "VERSION": "2.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Harbor's shape: paths relative to the /api/v2.0 base (its basePath), so clients take that base URL.
    "SCHEMA_PATH_PREFIX": "/api/v2.0",
    "SCHEMA_PATH_PREFIX_TRIM": True,
    "SERVERS": [{"url": "/api/v2.0"}],
    "DEFAULT_GENERATOR_CLASS": "common.api.schema.HarborSchemaGenerator",
    # `<id:...>` (common.api.params.Int64Converter) is `<int:...>` bounded to int64: an integer, as before.
    "PATH_CONVERTER_OVERRIDES": {"id": int},
    "PREPROCESSING_HOOKS": ["common.api.schema.harbor_preprocess"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.api.schema.harbor_postprocess",
    ],
    # Swagger UI assets from drf-spectacular-sidecar (static files), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("HARBOR_LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
