"""The search index: as-you-type lookup by name on tantivy, kept in step with the facts."""
