"""Figure 7: tags/list latency, the full list and the n=100 walk along Link headers."""

from __future__ import annotations

import json
import statistics
import time

from harbor_bench.client import expect, list_all_tags
from harbor_bench.common import REPO_TAGS, BenchError
from harbor_bench.runner import Bench


def run_tags_list(b: Bench) -> None:
    f1 = b.fig("tags_list_full", f"tags/list full ({b.ntags} tags) latency", "ms", higher_better=False)
    f2 = b.fig("tags_list_paged", f"tags/list n=100 Link walk ({b.ntags} tags) total", "ms", higher_better=False)
    reps_full = 10 if b.a.quick else 20
    reps_walk = 3 if b.a.quick else 5

    def full(t):
        c = b.clients[t]
        path = f"/v2/{REPO_TAGS}/tags/list"
        c.auth_header(c.scope(REPO_TAGS))
        times, count, link = [], 0, None
        for _ in range(reps_full):
            t0 = time.perf_counter()
            r = c.request("GET", path, repo=REPO_TAGS)
            body = r.content
            times.append(time.perf_counter() - t0)
            expect(r, 200)
            count = len(json.loads(body).get("tags") or [])
            link = r.headers.get("link")
        extra = {"median_of": reps_full, "min_ms": round(min(times) * 1000, 2), "tags": count}
        if count != b.ntags:
            extra["warn"] = f"returned {count} of {b.ntags} tags" + (" (Link header present)" if link else "")
        b.record(f1, t, statistics.median(times) * 1000, **extra)

    def walk(t):
        c = b.clients[t]
        c.auth_header(c.scope(REPO_TAGS))
        times, pages, seen = [], 0, []
        for _ in range(reps_walk):
            t0 = time.perf_counter()
            seen = list_all_tags(c, REPO_TAGS, page=100)
            times.append(time.perf_counter() - t0)
            pages = list_all_tags.pages  # type: ignore[attr-defined]
        extra = {"median_of": reps_walk, "pages": pages, "tags": len(seen)}
        if len(seen) != b.ntags or len(set(seen)) != len(seen):
            extra["warn"] = f"walk returned {len(seen)} tags ({len(set(seen))} distinct) of {b.ntags}"
        elif pages == 1 and b.ntags > 100:
            extra["warn"] = "server ignored n=100 (one page): the ratio is not like for like"
            extra["incomparable"] = True
        b.record(f2, t, statistics.median(times) * 1000, **extra)

    def skip_unseeded(fn):
        def inner(t):
            if t in b.seed_failed:
                raise BenchError("tag seeding failed")
            fn(t)

        return inner

    b.each("tags_list", skip_unseeded(full), [f1])
    b.each("tags_list", skip_unseeded(walk), [f2])
