"""The offline `lite` model bundle: EfficientNet-Lite0 + all-MiniLM-L6-v2 and their trained bridge, in ONNX."""
