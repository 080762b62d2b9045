"""Configurations of our server benched side by side: the embedded default and PostgreSQL + Redis.

  sqlite    the embedded default: SQLite (WAL) and the filesystem Celery broker under the work dir
  postgres  HARBOR_DATABASE_URL on PostgreSQL and HARBOR_BROKER_URL on Redis (the settings have no
            cache or other Redis use: Redis is the broker only)

For postgres the bench creates a fresh database `bench_<run id>` on the --postgres-url server and drops
it afterwards; a --postgres-url that names a database is used as it is and never dropped. Only names
starting with `bench_` are ever dropped, so other databases on a shared server are safe.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from harbor_bench.common import BenchError, log, ours_key

CONFIGS = ("sqlite", "postgres")
DB_PREFIX = "bench_"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "")
# the keys kombu's Redis transport creates (queue list, bindings, unacked bookkeeping)
KOMBU_KEY_PATTERNS = ("celery*", "_kombu.*", "unacked*")


@dataclass
class OursConfig:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    drop_database: tuple[str, str] | None = None  # (maintenance URL, name): created here, dropped after
    redis_picked: str | None = None  # a Redis database chosen here because it was empty

    @property
    def key(self) -> str:
        return ours_key(self.name)

    @property
    def local_postgres(self) -> bool:
        url = self.env.get("HARBOR_DATABASE_URL", "")
        parts = urllib.parse.urlsplit(url)
        return parts.scheme.startswith("postgres") and (parts.hostname or "") in LOCAL_HOSTS


def parse_configs(value: str) -> list[str]:
    names = [x.strip() for x in value.split(",") if x.strip()]
    bad = [x for x in names if x not in CONFIGS]
    if bad or not names or len(set(names)) != len(names):
        raise ValueError(f"--ours-configs takes a comma list of {', '.join(CONFIGS)} (each once), not {value!r}")
    return names


def configs_from_args(a) -> list[OursConfig]:
    """The configurations of ours to start (not prepared yet: see config_prepare)."""
    if a.database_url:  # the older single-configuration option, the database used as it is
        scheme = urllib.parse.urlsplit(a.database_url).scheme
        name = "postgres" if scheme.startswith(("postgres", "pgsql")) else "custom"
        return [OursConfig(name, env={"HARBOR_DATABASE_URL": a.database_url})]
    return [OursConfig(name) for name in a.ours_configs]


def _with_path(url: str, dbname: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path="/" + dbname))


def pg_create_database(server_url: str, run_id: str) -> tuple[str, str, str]:
    """Create a fresh bench_<run id> database; return (its URL, maintenance URL, name)."""
    import psycopg  # the venv's driver (requirements.txt); imported here so other configs need none

    name = f"{DB_PREFIX}{run_id}"
    admin = _with_path(server_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _with_path(server_url, name), admin, name


def pg_drop_database(admin_url: str, name: str) -> None:
    if not name.startswith(DB_PREFIX):  # never anything we did not create
        raise BenchError(f"refusing to drop database {name!r}")
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_pick_db(server_url: str) -> str:
    """redis URL of the highest-numbered empty database (1-15) of the server, so nothing is shared."""
    import redis

    r = redis.Redis.from_url(_with_path(server_url, "0"), socket_timeout=5)
    used = set(r.info("keyspace"))  # {"db0": {...}, ...}: only databases with keys
    r.close()
    for n in range(15, 0, -1):
        if f"db{n}" not in used:
            return _with_path(server_url, str(n))
    raise BenchError(f"no empty Redis database on {server_url}; pass --redis-url")


def redis_cleanup(url: str) -> int:
    """Delete the broker keys our server left in a database we picked (nothing else is there)."""
    import redis

    r = redis.Redis.from_url(url, socket_timeout=5)
    keys = {k for pattern in KOMBU_KEY_PATTERNS for k in r.scan_iter(match=pattern)}
    if keys:
        r.delete(*keys)
    r.close()
    return len(keys)


def config_prepare(cfg: OursConfig, a, run_id: str) -> None:
    """Create what cfg needs before our server starts (the PostgreSQL database, the Redis choice)."""
    if cfg.name != "postgres" or "HARBOR_DATABASE_URL" in cfg.env:
        return
    pg = a.postgres_url or DEFAULT_POSTGRES
    if urllib.parse.urlsplit(pg).path.strip("/"):
        cfg.env["HARBOR_DATABASE_URL"] = pg
    else:
        url, admin, name = pg_create_database(pg, run_id)
        cfg.drop_database = (admin, name)
        cfg.env["HARBOR_DATABASE_URL"] = url
        log(f"{cfg.key}: created PostgreSQL database {name}")
    if a.redis_url:
        cfg.env["HARBOR_BROKER_URL"] = a.redis_url
    else:
        cfg.redis_picked = redis_pick_db(DEFAULT_REDIS)
        cfg.env["HARBOR_BROKER_URL"] = cfg.redis_picked
        log(f"{cfg.key}: broker {cfg.redis_picked} (an empty Redis database)")


def config_cleanup(cfg: OursConfig) -> None:
    """Drop what config_prepare created; call after the server has stopped."""
    if cfg.drop_database:
        admin, name = cfg.drop_database
        try:
            pg_drop_database(admin, name)
            log(f"{cfg.key}: dropped PostgreSQL database {name}")
        except Exception as e:
            log(f"{cfg.key}: could not drop database {name}: {type(e).__name__}: {e}")
    if cfg.redis_picked:
        try:
            n = redis_cleanup(cfg.redis_picked)
            if n:
                log(f"{cfg.key}: deleted {n} broker keys from {cfg.redis_picked}")
        except Exception as e:
            log(f"{cfg.key}: could not clean {cfg.redis_picked}: {type(e).__name__}: {e}")
