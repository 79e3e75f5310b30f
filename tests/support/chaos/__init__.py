"""Killing the database mid-load: a durable local server, a concurrent mixed load that
journals every request, the batch commands as subprocesses, the kill, and the checks made
after the restart (tests/chaos/test_kill_mid_load.py, make chaos)."""
