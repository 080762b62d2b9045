"""Settings for the canary test's real server: base settings, with Django's own loggers (SQL included) at DEBUG."""

from harbor_site.settings.base import *  # noqa: F403
from harbor_site.settings.base import LOGGING

# Django's default logging holds the `django` logger at INFO; SQL with its parameters is logged at DEBUG.
LOGGING = {**LOGGING, "loggers": {**LOGGING["loggers"], "django": {"level": "DEBUG"}}}
