-- Unanswered complaint volume by source, last 7 days: complaints (posts and comments) by
-- residents that got no reply from the source itself (no comment by the community/channel whose
-- parent is the complaint). Source: posts FINAL (latest version of each post).
-- Window: fixed relative (no query parameters on 18.16).
-- Columns: source_id, platform, complaints, unanswered, unanswered_share.
-- On data that has ended (the demo's October–November posts) run the latest-anchored variant:
-- every now() replaced by (SELECT max(published_at) FROM posts); see deploy/README.md.
SELECT
    source_id,
    platform,
    count() AS complaints,
    countIf(answered = 0) AS unanswered,
    round(unanswered / complaints, 3) AS unanswered_share
FROM
(
    SELECT uid, source_id, platform
    FROM posts FINAL
    WHERE kind = 'complaint' AND author_is_source = 0 AND published_at >= now() - INTERVAL 7 DAY
) AS complained
ANY LEFT JOIN
(
    SELECT DISTINCT parent_uid AS uid, toUInt8(1) AS answered
    FROM posts
    WHERE item_kind = 'comment' AND author_is_source = 1 AND parent_uid != ''
) AS replies USING uid
GROUP BY source_id, platform
ORDER BY unanswered DESC, source_id
