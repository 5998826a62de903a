"""``latentspace visualize --server``: the same picture, optimised by a server against its index's network.

The server streams one progress message per step (drawn as a bar here) and then the PNG; a
picture it has cached comes at once. Ctrl-C cancels the call, which stops the work on the server.
Like the other client commands this imports neither torch nor FAISS.
"""

from __future__ import annotations

import argparse
import time

from latentspace.cli.common import CliError

__all__ = ["run_on_server"]

_SERVERS_BUSINESS = (("--index", "index"), ("--model", "model"), ("--weights", "weights"))


def _refuse_local_flags(args: argparse.Namespace) -> None:
    given = [flag for flag, name in _SERVERS_BUSINESS if getattr(args, name) is not None]
    if args.device != "auto":
        given.append("--device")
    if given:
        raise CliError(f"{', '.join(given)} cannot go with --server: the server optimises against its own index's "
                       f"network and keeps the picture in its index directory; drop {' and '.join(given)}, "
                       f"or drop --server to run in this process")


def _objective_words(args: argparse.Namespace) -> str:
    if args.layer is not None:
        return f"{args.layer} {'unit' if args.neuron else 'channel'} {args.unit}"
    if args.class_name is not None:
        return f"class {args.class_name}"
    return f"direction {args.direction!r}" if args.direction is not None else f"item {args.item}"


def run_on_server(args: argparse.Namespace) -> int:
    from latentspace.cli.client_cmds import _client
    from latentspace.cli.featurevis_cmds import check_objective_flags, write_pictures

    _refuse_local_flags(args)
    check_objective_flags(args)
    bar = None

    def progress(update) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=update.steps, unit="step", desc=_objective_words(args))
        bar.set_postfix_str(f"objective {update.value:.4g}", refresh=False)
        bar.update(update.step - bar.n)

    started = time.perf_counter()
    with _client(args) as client:
        try:
            made = client.visualize(args.class_name, layer=args.layer, unit=args.unit, neuron=args.neuron,
                                    direction=args.direction, item_id=args.item, seed=args.seed, steps=args.steps,
                                    size=args.size, count=args.count, diversity=args.diversity, progress=progress,
                                    timeout=args.timeout)
        finally:
            if bar is not None:
                bar.close()
    write_pictures(list(made.pictures), args.out)
    how = "from the server's cache" if made.cached else f"{time.perf_counter() - started:.1f} s"
    print(f"wrote {args.out}: {made.model} {made.description} on {args.server}, {made.size} px, {made.steps} steps, "
          f"seed {made.seed}, objective {made.value:.4g}, {how}")
    return 0
