"""ctm — Customer Transformer Matching: customer → circuit mappings and the PQ events that hit them."""

__version__ = "0.1.0"
