"""Feature visualization by optimisation: images the network itself makes for a unit, a class or a direction.

``parametrisation`` (Fourier spectrum with 1/f scaling, decorrelated colour), ``transforms``
(jitter, scale, rotation), ``objectives``, ``optimise`` (the batched loop) and ``visualize``
(objective + parameters → PNG bytes, cached in the index directory) follow Lucid and lucent;
each module cites what it follows.
"""

from latentspace.render.featurevis.errors import FeatureVisError, InvalidObjective, ObjectiveNotFound
from latentspace.render.featurevis.network import LOGITS, FeatureNetwork, layer_node
from latentspace.render.featurevis.objectives import (
    channel_objective,
    class_objective,
    direction_objective,
    neuron_objective,
)
from latentspace.render.featurevis.optimise import OptimisationParams, Optimised, Progress, optimise
from latentspace.render.featurevis.visualize import (
    Visualization,
    cached_visualization,
    render_visualizations,
    visualize,
    visualize_many,
)

__all__ = [
    "FeatureNetwork",
    "FeatureVisError",
    "InvalidObjective",
    "LOGITS",
    "ObjectiveNotFound",
    "OptimisationParams",
    "Optimised",
    "Progress",
    "Visualization",
    "cached_visualization",
    "channel_objective",
    "class_objective",
    "direction_objective",
    "layer_node",
    "neuron_objective",
    "optimise",
    "render_visualizations",
    "visualize",
    "visualize_many",
]
