"""What counts as a part being down: a datastore that does not answer (Redis,
Cassandra, the object store), or a service that answers UNAVAILABLE or not in time.
A call that met one may succeed unchanged once the part is back, so a service answers
it as UNAVAILABLE (the caller retries), and an event consumer keeps the message for
as long as the outage lasts instead of counting it against the message."""

from __future__ import annotations

import grpc
from botocore.exceptions import ConnectionError as ObjectStoreConnectionError
from cassandra import OperationTimedOut as CassandraOperationTimedOut
from cassandra import Timeout as CassandraTimeout
from cassandra import Unavailable as CassandraUnavailable
from cassandra.cluster import NoHostAvailable as CassandraNoHostAvailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# A datastore that is down, overloaded or timing out (on a Redis Cluster, a slot whose
# primary is failing over: pictor.redis_client.ClusterUnavailable).
DATASTORE_DOWN: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    CassandraUnavailable,
    CassandraTimeout,
    CassandraOperationTimedOut,
    CassandraNoHostAvailable,
    ObjectStoreConnectionError,
    ConnectionError,  # a socket refused or reset
)

# A service that was not reached, or did not answer in time.
SERVICE_UNREACHED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def is_outage(error: BaseException) -> bool:
    if isinstance(error, grpc.aio.AioRpcError):
        return error.code() in SERVICE_UNREACHED
    return isinstance(error, DATASTORE_DOWN)
