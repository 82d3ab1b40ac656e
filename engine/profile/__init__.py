"""Spectrum profiles: building them from photos, the encrypted store and its keys."""
