"""The database: engine and locks, models, grade-state writes, migrations."""
