"""Routes for system endpoints: systeminfo, health, ping, statistics, search, configurations."""

from django.urls import path

from system.api import views as system

urlpatterns = [
    path("systeminfo", system.SystemInfoView.as_view(), name="systeminfo"),
    path("systeminfo/volumes", system.VolumesView.as_view(), name="systeminfo-volumes"),
    path("health", system.HealthView.as_view(), name="health"),
    path("ping", system.PingView.as_view(), name="ping"),
    path("statistics", system.StatisticView.as_view(), name="statistics"),
    path("search", system.SearchView.as_view(), name="search"),
    path("configurations", system.ConfigurationsView.as_view(), name="configurations"),
]
