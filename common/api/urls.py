"""Routes for system endpoints: systeminfo, health, ping, statistics, search, configurations."""

urlpatterns: list = []
