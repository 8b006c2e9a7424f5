"""``otd``: the operations command line (typer + rich) over the cluster's HTTP APIs.

It finds the services in the launcher's cluster file (``var/cluster.json`` or
``OTD_CLUSTER_FILE``) and the bearer tokens in ``var/dev-tokens.json`` (or
``AUTH_TOKENS_FILE``). Every command has ``--json`` for scripts. Exit codes: 0 done,
1 the cluster refused or something failed, 2 usage error, 3 a service is unreachable.
"""
