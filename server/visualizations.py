"""Feature visualizations of a served index: Visualize's objectives resolved, its limits checked, its work run.

:class:`VisualizeEngine` sits beside the other engines. The network is the index's own embedder
(the model and weights its manifest names: an index of untrained weights gives pictures of
untrained weights); the optimisation and the cache are :mod:`latentspace.render.featurevis`'s,
the cache being the index directory's ``featurevis/``, shared with ``latentspace visualize --index``.

:meth:`VisualizeEngine.run` is a generator of events: render's :class:`Progress` after each step,
then one :class:`VisualizeResult`. A cached answer is the result alone and takes no slot. Otherwise
the optimisation runs in a thread of its own holding one of ``max_concurrent`` slots (none free:
:class:`Busy`, at once), and stops at the next step once the deadline passes
(:class:`DeadlineExceeded`), the caller cancels (:class:`Cancelled`) or the consumer of the events
goes away; the generator returns only once that thread has ended, so a slot is never held by
work nobody waits for. Like the other engines it raises :mod:`latentspace.server.errors`' exceptions
and never imports gRPC.
"""

from __future__ import annotations

import contextvars
import math
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from latentspace.render.featurevis import (
    FeatureNetwork,
    FeatureVisError,
    InvalidObjective,
    OptimisationParams,
    Progress,
    Visualization,
    cached_visualization,
    channel_objective,
    class_objective,
    direction_objective,
    neuron_objective,
    render_visualizations,
)
from latentspace.render.featurevis.objectives import Objective
from latentspace.render.featurevis.optimise import MIN_SIZE
from latentspace.server.arithmetic.directions import DirectionBook
from latentspace.server.config import VisualizeLimits
from latentspace.server.errors import Busy, Cancelled, InvalidQuery, NotFound
from latentspace.server.search.deadline import NO_DEADLINE, Deadline
from latentspace.server.search.engine import SearchEngine
from latentspace.server.search.queries import DirectionRef, ItemQuery

__all__ = ["ClassRef", "DEFAULTS", "UnitRef", "VisualizeEngine", "VisualizeRequest", "VisualizeResult"]

DEFAULTS = OptimisationParams()
"""What a request's unset (zero) steps, size and count mean: 256 steps, 224 pixels, one image."""


@dataclass(frozen=True)
class ClassRef:
    """An ImageNet class, by name or by its index written as a number."""

    name: str


@dataclass(frozen=True)
class UnitRef:
    """A layer's channel (its mean over positions), or with ``neuron`` its centre position only."""

    layer: str
    unit: int
    neuron: bool = False


ObjectiveRef = ClassRef | UnitRef | DirectionRef | ItemQuery


@dataclass(frozen=True)
class VisualizeRequest:
    objective: ObjectiveRef
    seed: int = 0
    steps: int = 0
    """0: :data:`DEFAULTS`' steps; likewise ``size`` and ``count``."""
    size: int = 0
    count: int = 0
    diversity: float = 0.0


@dataclass(frozen=True)
class VisualizeResult:
    visualization: Visualization
    description: str
    """What was visualised, in words."""
    model: str
    params: OptimisationParams


Event = Progress | VisualizeResult


class _Failed:
    """The optimisation thread's exception, handed to the stream."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class VisualizeEngine:
    """Visualize over one engine's index; see the module docstring."""

    def __init__(self, engine: SearchEngine, directions: DirectionBook, limits: VisualizeLimits | None = None) -> None:
        self.engine = engine
        self.directions = directions
        self.limits = limits if limits is not None else engine.config.visualize
        self._slots = threading.BoundedSemaphore(self.limits.max_concurrent)
        self._lock = threading.Lock()
        self._network: FeatureNetwork | None = None

    @property
    def network(self) -> FeatureNetwork:
        """The embedder's network as the optimiser reads it, made on first use (its graphs are traced lazily)."""
        with self._lock:
            if self._network is None:
                self._network = FeatureNetwork(self.engine.embedder)
            return self._network

    # -- checks --------------------------------------------------------------------------------

    def params(self, request: VisualizeRequest) -> OptimisationParams:
        """The request's parameters, defaults filled in, within this server's limits."""
        limits = self.limits
        steps = request.steps or DEFAULTS.steps
        size = request.size or DEFAULTS.size
        count = request.count or DEFAULTS.count
        if not 1 <= steps <= limits.max_steps:
            raise InvalidQuery(f"steps must be 1..{limits.max_steps} on this server (0 means {DEFAULTS.steps}), "
                               f"got {steps}")
        smallest = max(MIN_SIZE, min(self.network.min_size, limits.max_size))
        if not smallest <= size <= limits.max_size:
            model = self.engine.embedder.spec.name
            raise InvalidQuery(f"size must be {smallest}..{limits.max_size} pixels for {model} on this server "
                               f"(0 means {DEFAULTS.size}), got {size}")
        if not 1 <= count <= limits.max_count:
            raise InvalidQuery(f"count must be 1..{limits.max_count} images on this server (0 means 1), got {count}")
        if not (math.isfinite(request.diversity) and request.diversity >= 0):
            raise InvalidQuery(f"diversity must be a finite weight of at least 0, got {request.diversity}")
        try:
            return OptimisationParams(steps=steps, size=size, seed=int(request.seed), count=count,
                                      diversity=float(request.diversity))
        except InvalidObjective as exc:
            raise InvalidQuery(str(exc)) from None

    def objective(self, ref: ObjectiveRef) -> Objective:
        """The objective a request names, checked against the network and the index."""
        network = self.network
        try:
            if isinstance(ref, ClassRef):
                return class_objective(network, ref.name)
            if isinstance(ref, UnitRef):
                return (neuron_objective if ref.neuron else channel_objective)(network, ref.layer, ref.unit)
            if isinstance(ref, DirectionRef):
                return direction_objective(network, self.directions.get(ref.name).vector, f"'{ref.name}'")
            if isinstance(ref, ItemQuery):
                return direction_objective(network, self._item_vector(ref.item_id), f"of item {ref.item_id}")
        except InvalidObjective as exc:
            raise InvalidQuery(str(exc)) from None
        except FeatureVisError as exc:  # ObjectiveNotFound
            raise NotFound(str(exc)) from None
        raise InvalidQuery("the request names no objective: set one of class_name, channel, neuron, direction "
                           "or item_id")

    def _item_vector(self, item_id: int):
        try:
            _, vectors = self.engine.get_items([item_id], with_vectors=True)
        except NotFound as exc:
            count = len(self.engine.store)
            raise NotFound(f"{exc}; the index holds {count} items (ListItems lists their ids)") from None
        assert vectors is not None
        return vectors[0]

    # -- the RPC -------------------------------------------------------------------------------

    def run(self, request: VisualizeRequest, *, deadline: Deadline = NO_DEADLINE,
            cancelled: Callable[[], bool] = lambda: False) -> Iterator[Event]:
        """Progress after each step, then the result; only the result when it is cached."""
        with self.engine.operation():
            params = self.params(request)
            objective = self.objective(request.objective)
            directory = self.engine.store.directory
            found = cached_visualization(self.network, objective, params, index_dir=directory)
        if found is not None:
            yield self._result(found, objective, params)
            return
        if not self._slots.acquire(blocking=False):
            running = self.limits.max_concurrent
            raise Busy(f"{running} visualization{'s' if running != 1 else ''} already running, as many as this server "
                       f"runs at once (serve --max-visualizations); retry later. Cached answers are served at once")
        events: queue.SimpleQueue[Event | _Failed] = queue.SimpleQueue()
        stop = threading.Event()

        def step(update: Progress) -> None:
            if stop.is_set() or cancelled():
                raise Cancelled(f"the caller cancelled the visualization; it stopped after step {update.step} "
                                f"of {update.steps}")
            deadline.check(f"after step {update.step} of {update.steps} of the visualization")
            events.put(update)

        def work() -> None:
            try:
                with self.engine.operation():
                    deadline.check("before the visualization's first step")
                    [made] = render_visualizations(self.network, [objective], params, index_dir=directory,
                                                   progress=step)
                events.put(self._result(made, objective, params))
            except BaseException as exc:  # noqa: BLE001 - handed to the stream, which raises it
                events.put(_Failed(exc))
            finally:
                self._slots.release()

        thread = threading.Thread(target=contextvars.copy_context().run, args=(work,),
                                  name="latentspace-visualize", daemon=True)
        thread.start()
        try:
            while True:
                event = events.get()
                if isinstance(event, _Failed):
                    raise event.exc
                yield event
                if isinstance(event, VisualizeResult):
                    return
        finally:
            stop.set()  # the consumer is gone (or done): the next step ends the work
            thread.join()

    def _result(self, made: Visualization, objective: Objective, params: OptimisationParams) -> VisualizeResult:
        return VisualizeResult(made, objective.description, self.engine.embedder.spec.name, params)
