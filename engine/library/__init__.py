"""Photo library: scanning folders, fingerprints, incremental change detection."""
