"""HTTP blueprints: the webhook, the admin API and health."""
