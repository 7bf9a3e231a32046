"""LTI 1.3: the tool's configuration and its launch state in the database."""
