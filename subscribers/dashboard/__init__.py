"""The dashboard: the Funding Engine page, served by `drift-stream dashboard`."""
