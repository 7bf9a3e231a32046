"""Canvas facts into the store: the durable inbox, applying events, re-syncs."""
