"""The torch side: CLAP checkpoint loading, ONNX export, head training, reports."""
