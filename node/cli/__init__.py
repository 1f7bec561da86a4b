"""The ``clearinghouse`` command line."""

__all__: list[str] = []
