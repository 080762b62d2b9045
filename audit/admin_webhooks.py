"""Admin for webhook policies and deliveries."""
