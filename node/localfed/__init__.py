"""A whole federation on this machine, as a library: the CLI's demo, the benchmarks and
the tests build and drive one with it.

* :mod:`.config`: the federation config cut down to some participants
  (:func:`restrict_federation`), bearer tokens, and the one writer of node configs
  (:func:`write_node_config`, also behind ``clearinghouse init``);
* :mod:`.folder`: the federation's folder (state, keys, the quorum-signed
  manifest), made once and reused;
* :mod:`.processes`: each node as a ``clearinghouse run`` process: started, ready,
  stopped;
* :mod:`.federation`: :class:`LocalFederation`, one :class:`NodeHandle` per process;
* :mod:`.feeds`: the demo's real data, one feed per body;
* :mod:`.demo`: the demo run: feeds in, settle, every audit log verified;
* :mod:`.supervisor`: every node process kept up while the demo drives them (a node
  that goes down is named and restarted), and :func:`serve_until_stopped`;
* :mod:`.sign_in`: a single-use sign-in link to a node's pages (``--keep-running``).

Its HTTP goes through :mod:`node.transport.local_api`.
"""

from clearinghouse.node.localfed.config import (
    DEFAULT_PARTICIPANTS,
    FEDERATION_YAML,
    ROOT,
    hash_tokens,
    load_federation_config,
    make_tokens,
    restrict_federation,
    write_node_config,
)
from clearinghouse.node.localfed.demo import (
    ACCESS_LOG,
    COLUMNS,
    audit_federation,
    run_demo,
    witnessed,
)
from clearinghouse.node.localfed.federation import LocalFederation, NodeHandle
from clearinghouse.node.localfed.feeds import FEEDS, Feed, feed_items
from clearinghouse.node.localfed.processes import free_port
from clearinghouse.node.localfed.sign_in import SignInLink, sign_in_link
from clearinghouse.node.localfed.supervisor import NodeDown, Supervisor, serve_until_stopped

__all__ = [
    "ACCESS_LOG",
    "COLUMNS",
    "DEFAULT_PARTICIPANTS",
    "FEDERATION_YAML",
    "FEEDS",
    "ROOT",
    "Feed",
    "LocalFederation",
    "NodeDown",
    "NodeHandle",
    "SignInLink",
    "Supervisor",
    "audit_federation",
    "feed_items",
    "free_port",
    "hash_tokens",
    "load_federation_config",
    "make_tokens",
    "restrict_federation",
    "run_demo",
    "serve_until_stopped",
    "sign_in_link",
    "witnessed",
    "write_node_config",
]
