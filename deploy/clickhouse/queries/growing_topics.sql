-- Top growing topics: complaints and questions in the last 7 days against the weekly average of
-- the 4 weeks before. Source: complaints_hourly. Window: fixed relative (no query parameters on 18.16).
-- Columns: topic, this_week, weekly_avg_before (over 28 days / 4), growth (difference),
-- ratio (this_week / weekly_avg_before; 0 when there was nothing before).
-- On data that has ended (the demo's October–November posts) run the latest-anchored variant:
-- every now() replaced by (SELECT max(published_at) FROM posts); see deploy/README.md.
SELECT
    topic,
    uniqExactMergeIf(posts, hour >= now() - INTERVAL 7 DAY) AS this_week,
    uniqExactMergeIf(posts, hour < now() - INTERVAL 7 DAY) / 4 AS weekly_avg_before,
    this_week - weekly_avg_before AS growth,
    if(weekly_avg_before > 0, round(this_week / weekly_avg_before, 2), 0) AS ratio
FROM complaints_hourly
WHERE hour >= now() - INTERVAL 35 DAY AND topic != ''
GROUP BY topic
ORDER BY growth DESC, topic
LIMIT 20
