"""Read-only views for pages, JSON and mail; nothing here writes."""
