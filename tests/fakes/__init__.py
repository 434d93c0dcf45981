"""Loopback fakes of the platforms briefbot talks to, for tests."""
