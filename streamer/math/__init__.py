"""Drift's math, ours: integers in, integers out, as the program and the official SDK
compute them (division truncating toward zero; float64 only where the SDK uses it)."""
