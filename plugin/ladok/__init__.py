"""Ladok's REST API: the integration certificate, the client, and the read-only set-up check."""
