"""Frontends turn user models (scikit-learn estimators; ONNX later) into the IR."""
