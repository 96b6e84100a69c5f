"""Data: the MNIST files (torchvision's parsing and download), the IDX header check,
memory-mapping and streaming a set larger than memory, and make-large's sets."""
