"""Pictures of the embedding space: thumbnails, contact sheets, first-layer kernels, unit sheets, atlases.

Everything here is plain Pillow and NumPy over data the indexer already stores; nothing talks
gRPC, so the CLI and the server draw the same pictures with the same functions.
"""
