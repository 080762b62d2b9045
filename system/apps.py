from django.apps import AppConfig


class SystemConfig(AppConfig):
    """System-wide features that read several apps: system info, health, statistics, search, the
    configuration API and console page, the jobs and GC console, bootstrap commands. No models."""

    name = "system"
    verbose_name = "System"
