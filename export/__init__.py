"""Export side (torch): builds model bundles for the engine and benchmark data."""
