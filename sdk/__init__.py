"""Compute Spread Python SDK."""
