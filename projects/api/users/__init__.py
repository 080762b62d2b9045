"""`/users` and `/usergroups`: Harbor's user and user group API."""
