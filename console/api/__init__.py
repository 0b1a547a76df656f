"""The HTTP API: routes per resource, their schemas and their dependencies."""
