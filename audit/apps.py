from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and webhooks"

    def ready(self) -> None:
        # Subscribers register here (ARCHITECTURE.md, Events): each module's `subscribe()`
        # calls common.events.event_subscribe for the event types it reacts to.
        from audit import subscribers

        subscribers.subscribe()
