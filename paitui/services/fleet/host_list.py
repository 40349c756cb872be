"""The engines paitui knows: the one in use, the docker contexts and ``[hosts.NAME]``.

Apart from ``hosts`` (the engines and fleets on them) so that reading the list, which the
Desktop does at its first draw, loads no engine client, fleet or SDK.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from paitui.domain.fleet.hosts import HostList, HostSpec, local_name, merge_hosts
from paitui.services.engine.connect import resolve_endpoint
from paitui.services.engine.contexts import current_context, read_contexts
from paitui.settings import Settings


def load_hosts(settings: Settings, env: Mapping[str, str] | None = None) -> HostList:
    """The engine in use, the docker contexts and ``[hosts.NAME]``, with every problem found."""
    env = os.environ if env is None else env
    ep = resolve_endpoint(settings.docker_host, env)
    local = HostSpec(
        name=local_name(ep.source),
        endpoint=ep.host,
        source=ep.source,
        tls_verify=ep.tls_verify,
        ca_cert=ep.ca_cert,
        client_cert=ep.client_cert,
        client_key=ep.client_key,
        skip_tls_verify=ep.skip_tls_verify,
        # The single-engine path uses the ssh binary for ssh:// (make_client); keep it so.
        ssh_client="openssh",
    )
    contexts, problems = read_contexts(env)
    merged = merge_hosts(local, contexts, settings.hosts, current_context(env))
    return HostList(merged.hosts, (*problems, *merged.problems))
