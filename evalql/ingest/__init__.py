"""LangSmith-compatible ingest (spec §7.5–§7.7): records, merge rules, pending records, wire formats."""
