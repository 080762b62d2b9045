-- wrk script used by bench/run_bench.py for the high-rate registry operations.
--
-- Everything is configured through environment variables (set by run_bench.py):
--   BENCH_MODE    head | get | put
--   BENCH_AUTH    full value of the Authorization header ("Basic ..." / "Bearer ...")
--   BENCH_REPO    repository name, e.g. library/bench
--   head: BENCH_DIGEST                      blob digest to HEAD
--   get:  BENCH_TAG_PREFIX, BENCH_TAG_COUNT manifests <prefix><%05d index> are fetched round-robin
--         BENCH_ACCEPT                      Accept header
--   put:  BENCH_RUN_ID                      unique prefix for the new tags
--         BENCH_CONFIG_DIGEST, BENCH_CONFIG_SIZE, BENCH_LAYER_DIGEST, BENCH_LAYER_SIZE
--
-- Each request() builds one request; for "put" every request carries a distinct
-- manifest (an annotation holds the new tag) pushed under a new tag.
-- done() prints one machine-readable line starting with "BENCH_JSON ".

local mode = os.getenv("BENCH_MODE") or "get"
local auth = os.getenv("BENCH_AUTH")
local repo = os.getenv("BENCH_REPO") or "library/bench"

-- set per thread from setup() (thread:set), before init() runs
tid = tid or 0

local counter = 0
local headers = {}
local path_prefix = "/v2/" .. repo
local head_path, tag_prefix, tag_count, run_id, manifest_head, manifest_tail

function setup(thread)
  wrk_thread_seq = (wrk_thread_seq or 0) + 1
  thread:set("tid", wrk_thread_seq)
end

function init(args)
  if auth and auth ~= "" then
    headers["Authorization"] = auth
  end
  if mode == "head" then
    head_path = path_prefix .. "/blobs/" .. os.getenv("BENCH_DIGEST")
  elseif mode == "get" then
    tag_prefix = os.getenv("BENCH_TAG_PREFIX") or "t"
    tag_count = tonumber(os.getenv("BENCH_TAG_COUNT") or "1")
    headers["Accept"] = os.getenv("BENCH_ACCEPT") or "application/vnd.oci.image.manifest.v1+json"
    -- spread the threads over the tag space
    counter = (tid * 7919) % tag_count
  elseif mode == "put" then
    run_id = os.getenv("BENCH_RUN_ID") or "w"
    headers["Content-Type"] = "application/vnd.oci.image.manifest.v1+json"
    manifest_head = string.format(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' ..
      '"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},' ..
      '"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}],' ..
      '"annotations":{"org.example.bench.tag":"',
      os.getenv("BENCH_CONFIG_DIGEST"), os.getenv("BENCH_CONFIG_SIZE"),
      os.getenv("BENCH_LAYER_DIGEST"), os.getenv("BENCH_LAYER_SIZE"))
    manifest_tail = '"}}'
  else
    error("unknown BENCH_MODE " .. tostring(mode))
  end
end

function request()
  counter = counter + 1
  if mode == "head" then
    return wrk.format("HEAD", head_path, headers)
  elseif mode == "get" then
    local path = string.format("%s/manifests/%s%05d", path_prefix, tag_prefix, counter % tag_count)
    return wrk.format("GET", path, headers)
  else
    local tag = string.format("%s-%d-%d", run_id, tid, counter)
    local body = manifest_head .. tag .. manifest_tail
    return wrk.format("PUT", path_prefix .. "/manifests/" .. tag, headers, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
