"""Students' results through the rules into the ledger and the export files."""
