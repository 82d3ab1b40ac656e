"""`visuallens serve`: the local recommendation API (loopback only, bearer token, rankings and aspect words only)."""
