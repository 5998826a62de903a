"""Indexing on a Ray cluster: decoding in CPU tasks, embedding in an actor pool, shards committed by the driver.

Ray is an optional dependency (``pip install 'latentspace[ray]'``); importing this package does
not import it, only running a job does.
"""

from latentspace.indexer.distributed.cluster import RayUnavailable
from latentspace.indexer.distributed.job import RayIndexOptions, index_on_ray
from latentspace.indexer.distributed.staging import Staging, commit_shard

__all__ = ["RayIndexOptions", "RayUnavailable", "Staging", "commit_shard", "index_on_ray"]
