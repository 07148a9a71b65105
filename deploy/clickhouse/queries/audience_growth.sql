-- Audience growth per source, last 14 days: the first and the last audience a poll saw in the
-- window (VK and OK members, Telegram subscribers), the change and the change in per cent (NULL
-- from an audience of 0). Source: source_stats; a redelivered row is the same observation, so
-- argMin/argMax give the same answer with it. Organisation types are in responders.toml, not
-- in ClickHouse: `otklik report audience` adds them.
-- Window: fixed relative (no query parameters on 18.16). Audiences are observed when a poll runs,
-- so on the demo this runs as is; its latest-anchored variant (every now() replaced by
-- (SELECT max(published_at) FROM posts), see deploy/README.md) would look at the posts' dates.
-- Columns: source_id, platform, first_at, first_audience, last_at, last_audience, change, change_pct.
SELECT
    source_id,
    platform,
    min(observed_at) AS first_at,
    argMin(audience, observed_at) AS first_audience,
    max(observed_at) AS last_at,
    argMax(audience, observed_at) AS last_audience,
    toInt64(last_audience) - toInt64(first_audience) AS change,
    if(first_audience = 0, NULL, round(100 * change / first_audience, 1)) AS change_pct
FROM source_stats
WHERE observed_at >= now() - INTERVAL 14 DAY
GROUP BY source_id, platform
ORDER BY change DESC, source_id
