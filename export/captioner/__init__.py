"""The captioner of model bundles: optimum ONNX export, tiny test models, the aspect vocabulary."""
