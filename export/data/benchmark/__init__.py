"""The recommendation benchmark: its on-disk format (`format`) and a simulator of users from registry images."""
