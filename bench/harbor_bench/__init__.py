"""Side-by-side benchmark: our registry vs. Debian's docker-registry (distribution v2.8).

Both servers run on 127.0.0.1 with authentication on; the same client code drives
both (it answers Basic or Bearer challenges from WWW-Authenticate).  See
bench/README.md for usage; bench/run_bench.py is the entry point.

Figures (for each server, in the same run):
  1. blob push, monolithic (POST + one PUT ?digest=)              MB/s
  2. blob push, 8 MiB chunks (POST, PATCH+Content-Range, PUT)     MB/s
  3. blob pull, one GET; and 32 concurrent GETs (aggregate)       MB/s
  4. manifest PUT (new tag each) at concurrency 1 and 16          ops/s
  5. manifest GET by tag at concurrency 1 and 16                  ops/s
  6. HEAD blob at concurrency 1 and 16                            ops/s
  7. tags/list latency with N tags: full list, n=100 Link walk    ms
  8. peak RSS growth of the server process tree during a 1 GiB
     streamed PATCH (one request, generator body)                 MiB
  9-12. image push (config + layer + manifest, as docker does) into
     one repository at c=1/16/64, 64 repositories, 8 projects and a
     new repository per image: images/s, p50/p99, CPU per image   img/s, ms

MB = 10^6 bytes; blob sizes are given in MiB.

Modules:
  common     constants, BenchError, log
  client     the OCI distribution client (Basic / Bearer auth), tags/list walk, manifest bodies
  data       random blob files and streamed bodies
  procs      process trees, RSS of a tree, pid of a listening socket, RssSampler
  servers    starting / stopping our server (gunicorn) and docker-registry
  configs    the configurations of ours (sqlite, postgres + redis): databases made and dropped
  imagepush  the image push load generator (client processes x threads, measured window)
  loadtools  wrk, ab, Python-thread and curl load generators
  results    Figure: one row of the table; DetailTable: the second table
  runner     Bench: the state shared by the figures (clients, blobs, sizes, recording)
  figures/   the measurements: blobs, manifests, head, tags, rss, images
  report     the table, tool versions, the JSON document
  cli        argument parsing and orchestration
"""
