"""Webhooks: policies (services, selectors), payloads (pure), delivery (through the egress guard)."""
