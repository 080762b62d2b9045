"""Security suite: the generated role x operation matrix, cross-tenant isolation, mass assignment, canary secrets."""
