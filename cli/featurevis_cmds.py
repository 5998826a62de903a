"""``latentspace visualize`` and ``latentspace activations``: what the network itself sees.

``visualize --server`` asks a server instead (:mod:`latentspace.cli.featurevis_remote`).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

from latentspace.cli.common import CliError
from latentspace.cli.visual_cmds import _add_network_options, _positive


def register(subparsers: argparse._SubParsersAction) -> None:
    vis = subparsers.add_parser(
        "visualize",
        help="synthesise an image that excites a class, a unit or a direction (feature visualization)",
        description="Optimise an image, parametrised as a 1/f-scaled Fourier spectrum in decorrelated colours "
        "and seen through random jitter, scaling and rotation each step (Olah et al. 2017, as Lucid), so that "
        "the network's class logit, a layer's channel (mean over positions; --neuron: the centre position), or "
        "the cosine of its embedding with a named direction or a stored item's vector is as large as possible. "
        "Seeded: the same command gives the same picture. With --index the picture is cached in DIR/featurevis/. "
        "With --server the server optimises against its own index's network (the model its manifest names) and "
        "caches the picture in its index directory; --index, --model, --weights and --device are then the "
        "server's business and refused here.",
    )
    what = vis.add_argument_group("objective (exactly one)")
    target = what.add_mutually_exclusive_group(required=True)
    target.add_argument("--class", dest="class_name", metavar="NAME", help="an ImageNet class by name or index 0-999")
    target.add_argument("--layer", help="a layer (with --unit): conv1..conv5, fc6, fc7 for alexnet; stem, "
                        "stage1..stage7, head, pool for efficientnet-lite0")
    target.add_argument("--direction", metavar="NAME", help="a named direction stored in --index (or the server's)")
    target.add_argument("--item", type=int, metavar="ID", help="the stored vector of an item of --index (or the server's)")
    what.add_argument("--unit", type=int, metavar="N", help="the channel of --layer, from 0")
    what.add_argument("--neuron", action="store_true", help="with --layer: the unit at the centre position only")
    vis.add_argument("--index", type=Path, metavar="DIR",
                     help="index directory: needed for --direction and --item; pictures are cached in it")
    vis.add_argument("--out", required=True, type=Path, metavar="FILE.png", help="picture to write")
    vis.add_argument("--seed", type=int, default=0, help="seed of the starting image and the transforms (default 0)")
    vis.add_argument("--steps", type=int, default=256, help="optimisation steps (default 256)")
    vis.add_argument("--size", type=int, default=224, help="side of the image in pixels (default 224)")
    vis.add_argument("--count", type=int, default=1, help="several images side by side (default 1)")
    vis.add_argument("--diversity", type=float, default=0.0,
                     help="with --count > 1: weight of the penalty on their similarity (Lucid's diversity; try 10)")
    _add_network_options(vis, from_index=True)
    remote = vis.add_argument_group("on a server", "optimise on a running server instead of in this process")
    remote.add_argument("--server", metavar="ADDR", default=None,
                        help="server address host:port; its index decides the network (no --model, --weights, "
                             "--device or --index with it)")
    remote.add_argument("--timeout", type=float, default=600.0,
                        help="with --server: seconds before the call gives up and the server stops (default 600)")
    remote.add_argument("--ca", type=Path, default=os.environ.get("LATENTSPACE_CA"), metavar="PEM",
                        help="with --server: connect with TLS, trusting this certificate (default: $LATENTSPACE_CA)")
    remote.add_argument("--token-file", type=Path, default=os.environ.get("LATENTSPACE_TOKEN_FILE"), metavar="FILE",
                        help="with --server: send the bearer token in FILE (default: $LATENTSPACE_TOKEN_FILE)")
    vis.add_argument("--no-progress", action="store_true", help="no progress bar")
    vis.set_defaults(run=run_visualize)

    acts = subparsers.add_parser(
        "activations",
        help="draw the activation maps one photo makes at a convolution layer",
        description="Run IMAGE through the network and draw every channel's map at --layer as a grid, all on one "
        "scale (black = the layer's smallest value, white = its largest), beside the crop the network saw and, "
        "for the first layer (alexnet conv1: 64 maps of 55×55; efficientnet-lite0 stem: 32 of 112×112), "
        "the kernel that made each map at the same place.",
    )
    acts.add_argument("image", type=Path, metavar="IMAGE", help="a photo")
    acts.add_argument("--layer", default=None, help="a convolution layer (default: the first one, conv1 or stem)")
    acts.add_argument("--over-photo", action="store_true", help="draw each map as heat over the photo")
    acts.add_argument("--tile", type=int, default=None, help="pixels per map (default: the map's size, 48..96)")
    acts.add_argument("--out", required=True, type=Path, metavar="FILE.png", help="picture to write")
    _add_network_options(acts, from_index=False)
    acts.set_defaults(run=run_activations)


def _embedder(args: argparse.Namespace, store):
    from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder

    if store is not None:
        recorded = store.manifest.embedder
        model = args.model or recorded.model
        if (args.direction is not None or args.item is not None) and model != recorded.model:
            raise CliError(f"--index {args.index} holds {recorded.model} vectors; its directions and items mean "
                           f"nothing to {model}: drop --model or choose another index")
        weights = args.weights or (recorded.weights if model == recorded.model else "imagenet")
        layer = recorded.layer if model == recorded.model else None
    else:
        model, weights, layer = args.model or "alexnet", args.weights or "imagenet", None
    return load_embedder(EmbedderConfig(model=model, layer=layer, weights=WeightsChoice.parse(weights)), device=args.device)


def check_objective_flags(args: argparse.Namespace) -> None:
    """--unit and --neuron go with --layer, which needs --unit."""
    if args.layer is not None and args.unit is None:
        raise CliError("--layer needs --unit N, the channel to visualise")
    if args.layer is None and (args.unit is not None or args.neuron):
        raise CliError("--unit and --neuron go with --layer")


def write_pictures(pictures: list[bytes], out: Path) -> None:
    """One picture as it came; several side by side."""
    import numpy as np
    from PIL import Image

    if len(pictures) == 1:
        out.write_bytes(pictures[0])
        return
    images = [np.asarray(Image.open(io.BytesIO(p)).convert("RGB")) for p in pictures]
    Image.fromarray(np.concatenate(images, axis=1)).save(out)


def _objective(args: argparse.Namespace, network, store):
    from latentspace.render.featurevis import (
        ObjectiveNotFound, channel_objective, class_objective, direction_objective, neuron_objective,
    )

    check_objective_flags(args)
    if args.layer is not None:
        return (neuron_objective if args.neuron else channel_objective)(network, args.layer, args.unit)
    if args.class_name is not None:
        return class_objective(network, args.class_name)
    if store is None:
        raise CliError("--direction and --item read the index: add --index DIR")
    if args.direction is not None:
        found = store.get_direction(args.direction)
        if found is None:
            known = ", ".join(d.name for d in store.list_directions()) or "none yet"
            raise ObjectiveNotFound(f"{args.index} has no direction named {args.direction!r} (it has: {known})")
        return direction_objective(network, found.vector, f"'{args.direction}'")
    try:
        vector = store.vectors([args.item])[0]
    except KeyError:
        raise ObjectiveNotFound(f"{args.index} has no item {args.item}") from None
    return direction_objective(network, vector, f"of item {args.item}")


def run_visualize(args: argparse.Namespace) -> int:
    for name, value in (("--steps", args.steps), ("--size", args.size), ("--count", args.count)):
        _positive(name, value)
    if args.server is not None:
        from latentspace.cli.featurevis_remote import run_on_server

        return run_on_server(args)

    from latentspace.indexer import IndexStore
    from latentspace.render.featurevis import FeatureNetwork, FeatureVisError, OptimisationParams, visualize_many

    store = IndexStore.open(args.index, readonly=True) if args.index is not None else None
    try:
        embedder = _embedder(args, store)
        network = FeatureNetwork(embedder)
        try:
            objective = _objective(args, network, store)
            params = OptimisationParams(steps=args.steps, size=args.size, seed=args.seed, count=args.count,
                                        diversity=args.diversity)
            network.check_size(params.size)
        except FeatureVisError as exc:
            raise CliError(str(exc)) from None
    finally:
        if store is not None:
            store.close()
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=params.steps, unit="step", desc=objective.description)

    def progress(update) -> None:
        bar.set_postfix_str(f"objective {update.values[0]:.4g}", refresh=False)
        bar.update(1)

    started = time.perf_counter()
    pictures = visualize_many(network, [objective], params, index_dir=args.index,
                              progress=progress if bar is not None else None)[0]
    if bar is not None:
        bar.close()
    write_pictures(pictures, args.out)
    print(f"wrote {args.out}: {embedder.spec.name} {objective.description}, {params.size} px, {params.steps} steps, "
          f"seed {params.seed}, {time.perf_counter() - started:.1f} s")
    return 0


def run_activations(args: argparse.Namespace) -> int:
    from latentspace.indexer.images import decode_image
    from latentspace.render.activation_maps import activation_maps, render_activation_maps
    from latentspace.render.featurevis import FeatureVisError, layer_node
    from latentspace.render.featurevis.network import is_first_layer, layer_names

    if args.tile is not None:
        _positive("--tile", args.tile)
    embedder = _embedder(argparse.Namespace(**{**vars(args), "direction": None, "item": None}), None)
    name = args.layer or layer_names(embedder)[0]
    try:
        layer = layer_node(embedder, name)
    except FeatureVisError as exc:
        raise CliError(str(exc)) from None
    image = decode_image(args.image.read_bytes()).image
    try:
        result = activation_maps(embedder, layer, image, with_kernels=is_first_layer(embedder, name))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    count, h, w = result.maps.shape
    title = f"{embedder.spec.name} {layer.name}: {count} maps of {h}×{w} for {args.image.name}"
    picture = render_activation_maps(result, tile=args.tile, over_photo=args.over_photo, title=title)
    picture.save(args.out)
    print(f"wrote {args.out}: {title}, {picture.width}×{picture.height} px", file=sys.stdout)
    return 0
