"""Chaos testing: faults applied to a running stack, and what its processes recorded.

`history` reads the JSON lines records the processes and the harness write.
"""
