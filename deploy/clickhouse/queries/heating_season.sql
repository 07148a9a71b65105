-- Heating-season dashboard: heating and hot-water complaints and questions by district and day,
-- last 30 days. Source: complaints_hourly. Window: fixed relative (no query parameters on 18.16).
-- Columns: day, municipality, municipality_name, heating, hot_water.
-- On data that has ended (the demo's October–November posts) run the latest-anchored variant:
-- every now() replaced by (SELECT max(published_at) FROM posts); see deploy/README.md.
SELECT
    toDate(hour) AS day,
    municipality,
    municipality_name,
    uniqExactMergeIf(posts, topic = 'heating') AS heating,
    uniqExactMergeIf(posts, topic = 'hot_water') AS hot_water
FROM complaints_hourly
WHERE topic IN ('heating', 'hot_water') AND hour >= toStartOfDay(now() - INTERVAL 30 DAY)
GROUP BY day, municipality, municipality_name
ORDER BY day, municipality
