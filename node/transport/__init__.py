"""Node-to-node transport: signed HTTP requests between nodes (RFC 9421, RFC 9530).

Import from the submodules (for example :mod:`node.transport.httpsig`); this
package holds no logic.
"""

__all__: list[str] = []
