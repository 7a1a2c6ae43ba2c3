"""Django's Redis cache backend, without a new client object per cache call.

Django's ``RedisCacheClient.get_client`` builds a ``redis.Redis`` for every get and set; its
constructor copies some 170 response callbacks, which cost more CPU than the Redis round trip
itself on a page served from the cache. A ``redis.Redis`` holds no connection of its own (its
pool does) and may be shared between threads, so one per pool is kept and reused.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}  # id(pool) -> redis.Redis; pools live as long as this object

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
