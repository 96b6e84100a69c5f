"""mnist-rules: one MLP, three gradient-descent update rules, measured.

Importing this package must stay cheap (no torch): the CLI's --help and --version
depend on it.
"""

__version__ = "0.2.0"
