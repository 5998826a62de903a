"""Options and error reporting shared by the subcommands."""

from __future__ import annotations

import argparse
import errno
import sys

__all__ = ["CliError", "add_embedder_options", "add_precision_option", "embedder_config", "explain", "read_vector"]


class CliError(Exception):
    """A usage problem the user can fix by changing the command line."""


def add_embedder_options(parser: argparse.ArgumentParser, *, defaults_from_index: bool = False) -> None:
    """``--model``, ``--weights``, ``--layer``, ``--device``.

    With ``defaults_from_index`` the model options default to None, meaning "as the index says".
    """
    note = " (default: as recorded in the index, else %s)" if defaults_from_index else " (default: %s)"
    group = parser.add_argument_group("embedder")
    group.add_argument("--model", default=None if defaults_from_index else "alexnet",
                       help="network to embed with: alexnet or efficientnet-lite0" + note % "alexnet")
    group.add_argument("--weights", default=None if defaults_from_index else "imagenet", metavar="imagenet|random[:SEED]|PATH",
                       help="pretrained ImageNet weights from the torch hub cache, seeded untrained weights, "
                            "or a state-dict file" + note % "imagenet")
    group.add_argument("--layer", default=None,
                       help="layer to read vectors from: fc7 (penultimate) or fc6 for alexnet (default: the model's penultimate layer)")
    group.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                       help="where the network runs (default: auto, a GPU when there is one)")


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    """``--precision``, for the commands that run the network over an index (``index``, ``serve``)."""
    parser.add_argument("--precision", default=None, choices=("fp32", "bf16", "fp16"),
                        help="forward-pass precision (default: as recorded in the index, else fp32). bf16 needs a GPU "
                             "or a CPU with AVX512-BF16 or AMX, fp16 a GPU; an index keeps the precision it was built "
                             "with and refuses another")


def embedder_config(args: argparse.Namespace, recorded: object | None = None):
    """The EmbedderConfig the flags ask for; unset flags fall back to ``recorded`` (an EmbedderInfo)."""
    from latentspace.indexer.embedders import EmbedderConfig, WeightsChoice

    model = args.model or (recorded.model if recorded else "alexnet")
    weights = args.weights or (recorded.weights if recorded else "imagenet")
    layer = args.layer or (recorded.layer if recorded and model == recorded.model else None)
    precision = getattr(args, "precision", None) or (recorded.precision if recorded else "fp32")
    return EmbedderConfig(model=model, layer=layer, weights=WeightsChoice.parse(weights), precision=precision)


def read_vector(path, what: str):
    """One float vector from a ``.npy`` file of shape (d,) or (1, d); ``what`` names it in errors."""
    import numpy as np

    try:
        array = np.load(path, allow_pickle=False)
    except EOFError:  # an empty (or cut short) file
        raise CliError(f"{what}: {path} is empty or cut short, not a .npy file; "
                       f"write one with numpy.save") from None
    except (OSError, ValueError) as exc:
        raise CliError(f"{what}: not a .npy file numpy can read ({exc})") from None
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise CliError(f"{what}: {path} is a .npz archive; give a .npy file of one vector (numpy.save)")
    if not isinstance(array, np.ndarray) or array.ndim not in (1, 2) or (array.ndim == 2 and array.shape[0] != 1):
        raise CliError(f"{what}: expected one vector (shape (d,) or (1, d)), got shape {getattr(array, 'shape', '?')}")
    return array.reshape(-1)


def explain(exc: Exception) -> str | None:
    """A one-line message for errors users cause or can fix; None for bugs (shown as tracebacks).

    Only modules already imported are consulted: an indexer error can only come from an imported
    indexer, and a client command's error must not pay for importing torch.
    """
    expected: list[type[BaseException]] = [FileNotFoundError, FileExistsError, PermissionError]
    if "latentspace.client.errors" in sys.modules:
        expected.append(sys.modules["latentspace.client.errors"].LatentSpaceError)
    for module, names in (
        ("latentspace.indexer.corpus", ("CorpusError",)),
        ("latentspace.indexer.embedders", ("EmbedderError",)),
        ("latentspace.indexer.images", ("ImageRejected",)),
        ("latentspace.indexer.manifest", ("IndexMismatch",)),
        ("latentspace.indexer.store", ("IndexCorrupt", "IndexLocked")),
        ("latentspace.indexer.faiss_index", ("FaissError",)),
        ("latentspace.indexer.vector_io", ("VectorFileError",)),
        ("latentspace.server.errors", ("AccessConfigError",)),
    ):
        if module in sys.modules:
            expected += [getattr(sys.modules[module], name) for name in names]
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" writing {exc.filename}" if exc.filename else ""
        return (f"{exc.strerror or 'no space left on device'}{where}; everything committed before it is kept: "
                f"free some space and run the command again")
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    if isinstance(exc, tuple(expected)):
        return str(exc)
    return None
