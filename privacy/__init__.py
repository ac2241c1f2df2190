"""The privacy layer: the only gate out of the warehouse.

Pages and exports import from here only. (The public API is re-exported below as it grows.)
"""
