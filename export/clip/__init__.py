"""Any open_clip model's image and text towers exported to ONNX (fp32, fp16 or int8), with its tokenizer."""

from export.clip.source import ModelSpecError, load_open_clip, register_model_config
from export.clip.towers import export_clip_towers

__all__ = ["ModelSpecError", "export_clip_towers", "load_open_clip", "register_model_config"]
