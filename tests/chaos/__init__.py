"""Chaos testing: faults applied to a running stack, and the checker of what it recorded.

`history` reads the JSON lines records the processes and the harness write; `checker`
judges a history against the system's invariants (`checks/`, one module a concern).
"""
