from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CombineMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMBINE_METHOD_UNSPECIFIED: _ClassVar[CombineMethod]
    COMBINE_METHOD_ADD: _ClassVar[CombineMethod]
    COMBINE_METHOD_COSMUL: _ClassVar[CombineMethod]
    COMBINE_METHOD_AVERAGE: _ClassVar[CombineMethod]
    COMBINE_METHOD_BEST_SCORE: _ClassVar[CombineMethod]
    COMBINE_METHOD_SUM_SCORES: _ClassVar[CombineMethod]

class Interpolation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTERPOLATION_UNSPECIFIED: _ClassVar[Interpolation]
    INTERPOLATION_LINEAR: _ClassVar[Interpolation]
    INTERPOLATION_SLERP: _ClassVar[Interpolation]
COMBINE_METHOD_UNSPECIFIED: CombineMethod
COMBINE_METHOD_ADD: CombineMethod
COMBINE_METHOD_COSMUL: CombineMethod
COMBINE_METHOD_AVERAGE: CombineMethod
COMBINE_METHOD_BEST_SCORE: CombineMethod
COMBINE_METHOD_SUM_SCORES: CombineMethod
INTERPOLATION_UNSPECIFIED: Interpolation
INTERPOLATION_LINEAR: Interpolation
INTERPOLATION_SLERP: Interpolation

class Vector(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class Query(_message.Message):
    __slots__ = ("image", "item_id", "vector")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    item_id: int
    vector: Vector
    def __init__(self, image: _Optional[bytes] = ..., item_id: _Optional[int] = ..., vector: _Optional[_Union[Vector, _Mapping]] = ...) -> None: ...

class SearchOptions(_message.Message):
    __slots__ = ("k", "include_self", "labels", "min_score", "max_distance", "offset", "hide_duplicates", "diversity", "group_by", "group_size")
    K_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SELF_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    HIDE_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    DIVERSITY_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    GROUP_SIZE_FIELD_NUMBER: _ClassVar[int]
    k: int
    include_self: bool
    labels: _containers.RepeatedScalarFieldContainer[str]
    min_score: float
    max_distance: float
    offset: int
    hide_duplicates: bool
    diversity: float
    group_by: str
    group_size: int
    def __init__(self, k: _Optional[int] = ..., include_self: _Optional[bool] = ..., labels: _Optional[_Iterable[str]] = ..., min_score: _Optional[float] = ..., max_distance: _Optional[float] = ..., offset: _Optional[int] = ..., hide_duplicates: _Optional[bool] = ..., diversity: _Optional[float] = ..., group_by: _Optional[str] = ..., group_size: _Optional[int] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("id", "score", "path", "label")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    id: int
    score: float
    path: str
    label: str
    def __init__(self, id: _Optional[int] = ..., score: _Optional[float] = ..., path: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("query", "options")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    query: Query
    options: SearchOptions
    def __init__(self, query: _Optional[_Union[Query, _Mapping]] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ...) -> None: ...

class HitGroup(_message.Message):
    __slots__ = ("label", "hits")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    label: str
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    def __init__(self, label: _Optional[str] = ..., hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "metric", "groups")
    HITS_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    metric: str
    groups: _containers.RepeatedCompositeFieldContainer[HitGroup]
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ..., metric: _Optional[str] = ..., groups: _Optional[_Iterable[_Union[HitGroup, _Mapping]]] = ...) -> None: ...

class BatchSearchRequest(_message.Message):
    __slots__ = ("queries", "options")
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    queries: _containers.RepeatedCompositeFieldContainer[Query]
    options: SearchOptions
    def __init__(self, queries: _Optional[_Iterable[_Union[Query, _Mapping]]] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ...) -> None: ...

class BatchSearchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResponse, _Mapping]]] = ...) -> None: ...

class EmbedRequest(_message.Message):
    __slots__ = ("image",)
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    def __init__(self, image: _Optional[bytes] = ...) -> None: ...

class EmbedResponse(_message.Message):
    __slots__ = ("vector",)
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    vector: Vector
    def __init__(self, vector: _Optional[_Union[Vector, _Mapping]] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("id", "path", "label", "sha256", "width", "height", "stored_file", "vector")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    STORED_FILE_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    id: int
    path: str
    label: str
    sha256: str
    width: int
    height: int
    stored_file: str
    vector: Vector
    def __init__(self, id: _Optional[int] = ..., path: _Optional[str] = ..., label: _Optional[str] = ..., sha256: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., stored_file: _Optional[str] = ..., vector: _Optional[_Union[Vector, _Mapping]] = ...) -> None: ...

class GetItemsRequest(_message.Message):
    __slots__ = ("ids", "with_vectors")
    IDS_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTORS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[int]
    with_vectors: bool
    def __init__(self, ids: _Optional[_Iterable[int]] = ..., with_vectors: _Optional[bool] = ...) -> None: ...

class GetItemsResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("after_id", "limit")
    AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after_id: int
    limit: int
    def __init__(self, after_id: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items", "next_after_id")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    next_after_id: int
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., next_after_id: _Optional[int] = ...) -> None: ...

class NewImage(_message.Message):
    __slots__ = ("data", "path", "label")
    DATA_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    path: str
    label: str
    def __init__(self, data: _Optional[bytes] = ..., path: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class AddImagesRequest(_message.Message):
    __slots__ = ("images",)
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[NewImage]
    def __init__(self, images: _Optional[_Iterable[_Union[NewImage, _Mapping]]] = ...) -> None: ...

class AddImagesResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ...) -> None: ...

class RemoveItemsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, ids: _Optional[_Iterable[int]] = ...) -> None: ...

class RemoveItemsResponse(_message.Message):
    __slots__ = ("removed_ids",)
    REMOVED_IDS_FIELD_NUMBER: _ClassVar[int]
    removed_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, removed_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class InfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WeightsInfo(_message.Message):
    __slots__ = ("choice", "description", "sha256", "pretrained")
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    PRETRAINED_FIELD_NUMBER: _ClassVar[int]
    choice: str
    description: str
    sha256: str
    pretrained: bool
    def __init__(self, choice: _Optional[str] = ..., description: _Optional[str] = ..., sha256: _Optional[str] = ..., pretrained: _Optional[bool] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_k", "max_batch_queries", "max_add_images", "max_ids", "max_message_bytes", "max_thumbnails", "max_tile_size", "max_picture_pixels", "max_visualize_steps", "max_visualize_size", "max_visualize_count", "max_concurrent_visualizations")
    MAX_K_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_QUERIES_FIELD_NUMBER: _ClassVar[int]
    MAX_ADD_IMAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_IDS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_THUMBNAILS_FIELD_NUMBER: _ClassVar[int]
    MAX_TILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_PICTURE_PIXELS_FIELD_NUMBER: _ClassVar[int]
    MAX_VISUALIZE_STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_VISUALIZE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_VISUALIZE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_VISUALIZATIONS_FIELD_NUMBER: _ClassVar[int]
    max_k: int
    max_batch_queries: int
    max_add_images: int
    max_ids: int
    max_message_bytes: int
    max_thumbnails: int
    max_tile_size: int
    max_picture_pixels: int
    max_visualize_steps: int
    max_visualize_size: int
    max_visualize_count: int
    max_concurrent_visualizations: int
    def __init__(self, max_k: _Optional[int] = ..., max_batch_queries: _Optional[int] = ..., max_add_images: _Optional[int] = ..., max_ids: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_thumbnails: _Optional[int] = ..., max_tile_size: _Optional[int] = ..., max_picture_pixels: _Optional[int] = ..., max_visualize_steps: _Optional[int] = ..., max_visualize_size: _Optional[int] = ..., max_visualize_count: _Optional[int] = ..., max_concurrent_visualizations: _Optional[int] = ...) -> None: ...

class InfoResponse(_message.Message):
    __slots__ = ("item_count", "dimension", "model", "layer", "weights", "metric", "faiss_factory", "uses_faiss", "device", "versions", "limits", "search")
    class VersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    FAISS_FACTORY_FIELD_NUMBER: _ClassVar[int]
    USES_FAISS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    item_count: int
    dimension: int
    model: str
    layer: str
    weights: WeightsInfo
    metric: str
    faiss_factory: str
    uses_faiss: bool
    device: str
    versions: _containers.ScalarMap[str, str]
    limits: Limits
    search: SearchSettings
    def __init__(self, item_count: _Optional[int] = ..., dimension: _Optional[int] = ..., model: _Optional[str] = ..., layer: _Optional[str] = ..., weights: _Optional[_Union[WeightsInfo, _Mapping]] = ..., metric: _Optional[str] = ..., faiss_factory: _Optional[str] = ..., uses_faiss: _Optional[bool] = ..., device: _Optional[str] = ..., versions: _Optional[_Mapping[str, str]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., search: _Optional[_Union[SearchSettings, _Mapping]] = ...) -> None: ...

class SearchSettings(_message.Message):
    __slots__ = ("nprobe", "ef_search", "candidates")
    NPROBE_FIELD_NUMBER: _ClassVar[int]
    EF_SEARCH_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    nprobe: int
    ef_search: int
    candidates: int
    def __init__(self, nprobe: _Optional[int] = ..., ef_search: _Optional[int] = ..., candidates: _Optional[int] = ...) -> None: ...

class Term(_message.Message):
    __slots__ = ("query", "direction", "weight")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    query: Query
    direction: str
    weight: float
    def __init__(self, query: _Optional[_Union[Query, _Mapping]] = ..., direction: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class CombineRequest(_message.Message):
    __slots__ = ("positive", "negative", "method", "options")
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    positive: _containers.RepeatedCompositeFieldContainer[Term]
    negative: _containers.RepeatedCompositeFieldContainer[Term]
    method: CombineMethod
    options: SearchOptions
    def __init__(self, positive: _Optional[_Iterable[_Union[Term, _Mapping]]] = ..., negative: _Optional[_Iterable[_Union[Term, _Mapping]]] = ..., method: _Optional[_Union[CombineMethod, str]] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ...) -> None: ...

class ContextPair(_message.Message):
    __slots__ = ("positive", "negative")
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    positive: Term
    negative: Term
    def __init__(self, positive: _Optional[_Union[Term, _Mapping]] = ..., negative: _Optional[_Union[Term, _Mapping]] = ...) -> None: ...

class DiscoverRequest(_message.Message):
    __slots__ = ("target", "context", "options")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    target: Term
    context: _containers.RepeatedCompositeFieldContainer[ContextPair]
    options: SearchOptions
    def __init__(self, target: _Optional[_Union[Term, _Mapping]] = ..., context: _Optional[_Iterable[_Union[ContextPair, _Mapping]]] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ...) -> None: ...

class ShiftRequest(_message.Message):
    __slots__ = ("start", "direction_name", "direction_vector", "alphas", "options")
    START_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_VECTOR_FIELD_NUMBER: _ClassVar[int]
    ALPHAS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    start: Query
    direction_name: str
    direction_vector: Vector
    alphas: _containers.RepeatedScalarFieldContainer[float]
    options: SearchOptions
    def __init__(self, start: _Optional[_Union[Query, _Mapping]] = ..., direction_name: _Optional[str] = ..., direction_vector: _Optional[_Union[Vector, _Mapping]] = ..., alphas: _Optional[_Iterable[float]] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ...) -> None: ...

class WalkRequest(_message.Message):
    __slots__ = ("start", "end", "steps", "interpolation", "unique", "options")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    INTERPOLATION_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    start: Query
    end: Query
    steps: int
    interpolation: Interpolation
    unique: bool
    options: SearchOptions
    def __init__(self, start: _Optional[_Union[Query, _Mapping]] = ..., end: _Optional[_Union[Query, _Mapping]] = ..., steps: _Optional[int] = ..., interpolation: _Optional[_Union[Interpolation, str]] = ..., unique: _Optional[bool] = ..., options: _Optional[_Union[SearchOptions, _Mapping]] = ...) -> None: ...

class PathStep(_message.Message):
    __slots__ = ("position", "result")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    position: float
    result: SearchResponse
    def __init__(self, position: _Optional[float] = ..., result: _Optional[_Union[SearchResponse, _Mapping]] = ...) -> None: ...

class PathResponse(_message.Message):
    __slots__ = ("steps",)
    STEPS_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[PathStep]
    def __init__(self, steps: _Optional[_Iterable[_Union[PathStep, _Mapping]]] = ...) -> None: ...

class Direction(_message.Message):
    __slots__ = ("name", "kind", "description", "created_at", "dimension", "norm", "vector", "accuracy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    NORM_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    description: str
    created_at: float
    dimension: int
    norm: float
    vector: Vector
    accuracy: float
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., description: _Optional[str] = ..., created_at: _Optional[float] = ..., dimension: _Optional[int] = ..., norm: _Optional[float] = ..., vector: _Optional[_Union[Vector, _Mapping]] = ..., accuracy: _Optional[float] = ...) -> None: ...

class DirectionFromSets(_message.Message):
    __slots__ = ("positive", "negative", "learned")
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    LEARNED_FIELD_NUMBER: _ClassVar[int]
    positive: _containers.RepeatedCompositeFieldContainer[Query]
    negative: _containers.RepeatedCompositeFieldContainer[Query]
    learned: str
    def __init__(self, positive: _Optional[_Iterable[_Union[Query, _Mapping]]] = ..., negative: _Optional[_Iterable[_Union[Query, _Mapping]]] = ..., learned: _Optional[str] = ...) -> None: ...

class DirectionFromLabels(_message.Message):
    __slots__ = ("positive", "negative", "learned")
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    LEARNED_FIELD_NUMBER: _ClassVar[int]
    positive: str
    negative: str
    learned: str
    def __init__(self, positive: _Optional[str] = ..., negative: _Optional[str] = ..., learned: _Optional[str] = ...) -> None: ...

class DirectionFromClasses(_message.Message):
    __slots__ = ("positive", "negative")
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    positive: str
    negative: str
    def __init__(self, positive: _Optional[str] = ..., negative: _Optional[str] = ...) -> None: ...

class CreateDirectionRequest(_message.Message):
    __slots__ = ("name", "sets", "labels", "classes", "vector")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SETS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    sets: DirectionFromSets
    labels: DirectionFromLabels
    classes: DirectionFromClasses
    vector: Vector
    def __init__(self, name: _Optional[str] = ..., sets: _Optional[_Union[DirectionFromSets, _Mapping]] = ..., labels: _Optional[_Union[DirectionFromLabels, _Mapping]] = ..., classes: _Optional[_Union[DirectionFromClasses, _Mapping]] = ..., vector: _Optional[_Union[Vector, _Mapping]] = ...) -> None: ...

class ListDirectionsRequest(_message.Message):
    __slots__ = ("with_vectors",)
    WITH_VECTORS_FIELD_NUMBER: _ClassVar[int]
    with_vectors: bool
    def __init__(self, with_vectors: _Optional[bool] = ...) -> None: ...

class ListDirectionsResponse(_message.Message):
    __slots__ = ("directions",)
    DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    directions: _containers.RepeatedCompositeFieldContainer[Direction]
    def __init__(self, directions: _Optional[_Iterable[_Union[Direction, _Mapping]]] = ...) -> None: ...

class GetDirectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteDirectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteDirectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetThumbnailsRequest(_message.Message):
    __slots__ = ("ids", "size")
    IDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[int]
    size: int
    def __init__(self, ids: _Optional[_Iterable[int]] = ..., size: _Optional[int] = ...) -> None: ...

class Thumbnail(_message.Message):
    __slots__ = ("id", "png", "missing_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    MISSING_REASON_FIELD_NUMBER: _ClassVar[int]
    id: int
    png: bytes
    missing_reason: str
    def __init__(self, id: _Optional[int] = ..., png: _Optional[bytes] = ..., missing_reason: _Optional[str] = ...) -> None: ...

class GetThumbnailsResponse(_message.Message):
    __slots__ = ("thumbnails",)
    THUMBNAILS_FIELD_NUMBER: _ClassVar[int]
    thumbnails: _containers.RepeatedCompositeFieldContainer[Thumbnail]
    def __init__(self, thumbnails: _Optional[_Iterable[_Union[Thumbnail, _Mapping]]] = ...) -> None: ...

class RenderSheetRequest(_message.Message):
    __slots__ = ("search", "combine", "shift", "walk", "discover", "tile_size", "title")
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    COMBINE_FIELD_NUMBER: _ClassVar[int]
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    WALK_FIELD_NUMBER: _ClassVar[int]
    DISCOVER_FIELD_NUMBER: _ClassVar[int]
    TILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    search: SearchRequest
    combine: CombineRequest
    shift: ShiftRequest
    walk: WalkRequest
    discover: DiscoverRequest
    tile_size: int
    title: str
    def __init__(self, search: _Optional[_Union[SearchRequest, _Mapping]] = ..., combine: _Optional[_Union[CombineRequest, _Mapping]] = ..., shift: _Optional[_Union[ShiftRequest, _Mapping]] = ..., walk: _Optional[_Union[WalkRequest, _Mapping]] = ..., discover: _Optional[_Union[DiscoverRequest, _Mapping]] = ..., tile_size: _Optional[int] = ..., title: _Optional[str] = ...) -> None: ...

class RenderSheetResponse(_message.Message):
    __slots__ = ("png", "width", "height", "search", "path")
    PNG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    png: bytes
    width: int
    height: int
    search: SearchResponse
    path: PathResponse
    def __init__(self, png: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., search: _Optional[_Union[SearchResponse, _Mapping]] = ..., path: _Optional[_Union[PathResponse, _Mapping]] = ...) -> None: ...

class LayerUnit(_message.Message):
    __slots__ = ("layer", "unit")
    LAYER_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    layer: str
    unit: int
    def __init__(self, layer: _Optional[str] = ..., unit: _Optional[int] = ...) -> None: ...

class VisualizeRequest(_message.Message):
    __slots__ = ("class_name", "channel", "neuron", "direction", "item_id", "seed", "steps", "size", "count", "diversity")
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    NEURON_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DIVERSITY_FIELD_NUMBER: _ClassVar[int]
    class_name: str
    channel: LayerUnit
    neuron: LayerUnit
    direction: str
    item_id: int
    seed: int
    steps: int
    size: int
    count: int
    diversity: float
    def __init__(self, class_name: _Optional[str] = ..., channel: _Optional[_Union[LayerUnit, _Mapping]] = ..., neuron: _Optional[_Union[LayerUnit, _Mapping]] = ..., direction: _Optional[str] = ..., item_id: _Optional[int] = ..., seed: _Optional[int] = ..., steps: _Optional[int] = ..., size: _Optional[int] = ..., count: _Optional[int] = ..., diversity: _Optional[float] = ...) -> None: ...

class VisualizeProgress(_message.Message):
    __slots__ = ("step", "steps", "value")
    STEP_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    step: int
    steps: int
    value: float
    def __init__(self, step: _Optional[int] = ..., steps: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...

class VisualizeResult(_message.Message):
    __slots__ = ("png", "value", "cached", "description", "model", "steps", "size", "seed")
    PNG_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    png: _containers.RepeatedScalarFieldContainer[bytes]
    value: float
    cached: bool
    description: str
    model: str
    steps: int
    size: int
    seed: int
    def __init__(self, png: _Optional[_Iterable[bytes]] = ..., value: _Optional[float] = ..., cached: _Optional[bool] = ..., description: _Optional[str] = ..., model: _Optional[str] = ..., steps: _Optional[int] = ..., size: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class VisualizeResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: VisualizeProgress
    result: VisualizeResult
    def __init__(self, progress: _Optional[_Union[VisualizeProgress, _Mapping]] = ..., result: _Optional[_Union[VisualizeResult, _Mapping]] = ...) -> None: ...
