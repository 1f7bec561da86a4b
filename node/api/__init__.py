"""The node's HTTP API: routes per resource, dependencies, problem+json errors."""

__all__: list[str] = []
