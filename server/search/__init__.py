"""The search core: queries, validation, the resolver, the batchers, the engine, and the query features over exact scores (thresholds, groups, pages, duplicates, diversity, discovery)."""
