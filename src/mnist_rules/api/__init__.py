"""The Python API: one function per command (train, compare, sweep, profile), taking the
command's options as keyword arguments, and the results they return. Documented in
docs/api.md; `mnist_rules` re-exports the public names lazily."""
