"""The latentspace client: search an index served over gRPC without torch or FAISS.

    from latentspace.client import Client

    with Client("127.0.0.1:50051") as client:
        for hit in client.search("cat.jpg", k=5).hits:
            print(hit.id, hit.score, hit.path)

``AsyncClient`` has the same methods, awaited (grpc.aio), for programs written with asyncio.
"""

from latentspace.client.aio import AsyncClient
from latentspace.client.client import DEFAULT_MAX_MESSAGE_BYTES, Client
from latentspace.client.errors import (
    AlreadyExists,
    Cancelled,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    LatentSpaceError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from latentspace.client.models import (
    Direction,
    Hit,
    HitGroup,
    IndexInfo,
    Item,
    Limits,
    NewImage,
    PathResult,
    PathStep,
    Query,
    SearchResult,
    SearchSettings,
    Sheet,
    Term,
    Thumbnail,
    Visualization,
    VisualizeProgress,
    WeightsInfo,
)

__all__ = [
    "AlreadyExists",
    "AsyncClient",
    "Cancelled",
    "Client",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DeadlineExceeded",
    "Direction",
    "FailedPrecondition",
    "Hit",
    "HitGroup",
    "IndexInfo",
    "Internal",
    "InvalidArgument",
    "Item",
    "LatentSpaceError",
    "Limits",
    "NewImage",
    "NotFound",
    "PathResult",
    "PathStep",
    "PermissionDenied",
    "Query",
    "ResourceExhausted",
    "SearchResult",
    "SearchSettings",
    "Sheet",
    "Term",
    "Thumbnail",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Visualization",
    "VisualizeProgress",
    "WeightsInfo",
]
