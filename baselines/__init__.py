"""Baselines shipped with the harness: one module per method, each registering itself with
`cddgan.methods.register`. Every module in this package is imported by `cddgan.methods.load_plugins`, the
same way as every module of `cddgan.methods` and each module under the config's `plugins:`."""
