"""The fault harness (issue 29): the production topology on this machine (a PostgreSQL and a
Redis of its own, two web processes, two qclusters), a steady load from three tenants, faults
injected into it, and what clients got and the database kept afterwards, printed as a table.

    servers.py     the harness's own PostgreSQL (initdb in a temp folder) and redis-server
    topology.py    the platform on them (tools.live_platform), three tenants
    load.py        synchronous, streaming and async requests, each answer classified
    realtime.py    the load's realtime sessions (the official SDK's realtime client)
    invariants.py  what the database must say once a fault is over
    scenarios.py   the faults, and one run: load, fault, recovery, settle, table
    process_kills.py  web processes and workers SIGKILLed
"""
