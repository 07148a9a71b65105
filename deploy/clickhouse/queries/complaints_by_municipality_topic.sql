-- Complaints and questions per municipality x topic, last 7 days (the table `otklik report` prints).
-- Source: complaints_hourly (uniqExact states: re-delivered posts count once).
-- Window: fixed relative (ClickHouse 18.16 has no query parameters); edit `7 DAY` to change it.
-- Columns: municipality (ОКТМО, '' = unknown), municipality_name, topic ('' = no topic),
-- complaints, questions, total (distinct posts of either kind).
-- On data that has ended (the demo's October–November posts) run the latest-anchored variant:
-- every now() replaced by (SELECT max(published_at) FROM posts); see deploy/README.md.
SELECT
    municipality,
    municipality_name,
    topic,
    uniqExactMergeIf(posts, kind = 'complaint') AS complaints,
    uniqExactMergeIf(posts, kind = 'question') AS questions,
    uniqExactMerge(posts) AS total
FROM complaints_hourly
WHERE hour >= toStartOfHour(now() - INTERVAL 7 DAY)
GROUP BY municipality, municipality_name, topic
ORDER BY total DESC, municipality, topic
