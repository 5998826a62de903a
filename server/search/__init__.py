"""Query features over exact scores: thresholds, groups, pages, duplicates, diversity, discovery."""
