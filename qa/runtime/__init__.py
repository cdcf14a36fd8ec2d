"""The models at run time: the Embedder seam, ONNX Runtime and torch, building the ONNX files, qa doctor."""
