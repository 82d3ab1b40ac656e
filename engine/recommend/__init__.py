"""Recommendation: category vectors, retrieval, scoring and explanations."""
