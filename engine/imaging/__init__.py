"""Image decoding, orientation, HEIC, encoder preprocessing and the evidence grid."""
