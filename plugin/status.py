"""The words the service stores and answers with, each spelled once."""

# What became of an event the webhook received (its answer, and its stored status).
ACCEPTED, DUPLICATE, IGNORED = "accepted", "duplicate", "ignored"
# The reason stored with an event of a course not (yet) configured: replayed once it is.
NOT_CONFIGURED = "course not configured"

# How a ledger entry (an export line) goes to Ladok.
NEW, CORRECTION, WITHDRAWN = "new", "correction", "withdrawn"

# Jobs: their kinds and states.
RESYNC, EXPORT = "resync", "export"
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"

# Re-sync modes: everything, or only grades changed since the last good run.
FULL, INCREMENTAL = "full", "incremental"
SYNC_MODES = (FULL, INCREMENTAL)

# What started an export run.
SCHEDULE, MANUAL, CLI = "schedule", "manual", "cli"

# An e-mail receipt: waiting to be sent (or retried), sent, or given up after a day.
RECEIPT_PENDING, RECEIPT_SENT, RECEIPT_FAILED = "pending", "sent", "failed"
