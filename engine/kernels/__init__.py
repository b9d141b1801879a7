"""Numba kernels: typed arrays in, arrays out; no strings, no Python objects, no raising."""
