"""deploy/cluster's parts: state.py (names, ports, the state file), procs.py
(libchat's own processes and HAProxy), tier.py (the data tier, started by the
tests' fixture scripts), health.py (what status shows), commands.py."""
