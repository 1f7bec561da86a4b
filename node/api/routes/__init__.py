"""Thin route modules, one per resource."""

__all__: list[str] = []
