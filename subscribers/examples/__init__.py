"""Example engines built on the library."""
