"""Using trained models: images from captions (`generate`, `onnx_generate`) and captions from images (`caption`, `onnx_caption`)."""
