"""Admin for the audit log (read-only)."""

import audit.admin_webhooks  # noqa: F401 - registers the webhook admin
