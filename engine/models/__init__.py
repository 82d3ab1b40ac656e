"""Model bundles: manifest validation, ONNX Runtime sessions, encoders, tokenizers."""
