"""The Clearinghouse node: command line, importers of real data and (with the node
service) transport, storage, delivery, audit and the situation view."""

__all__: list[str] = []
