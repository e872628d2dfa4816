"""The contract between the gateway and the TorchServe handlers, in one place.

Both sides import this package and nothing of each other: the language table,
the decode options with their bounds, the typed transcript, the request envelope
with its error kinds, and the one audio decoder. It depends on numpy and PyAV only,
so ``model-store/build.py`` packs it into every model archive as it is.
"""
