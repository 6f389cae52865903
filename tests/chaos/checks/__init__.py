"""The checker's checks, one module a concern; each check is a function of the history
and the configuration that returns what it found (`core.Outcome`)."""
