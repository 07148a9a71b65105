-- Posts needing attention: complaints published in the last hour, newest first.
-- Source: posts FINAL (latest version of each post). Window: fixed relative (no query
-- parameters on 18.16). Columns: published_at, platform, municipality_name, topics, uid, url, excerpt.
-- On data that has ended (the demo's October–November posts) run the latest-anchored variant:
-- every now() replaced by (SELECT max(published_at) FROM posts); see deploy/README.md.
SELECT
    published_at,
    platform,
    municipality_name,
    topics,
    uid,
    url,
    substringUTF8(text, 1, 200) AS excerpt
FROM posts FINAL
WHERE kind = 'complaint' AND published_at >= now() - INTERVAL 1 HOUR
ORDER BY published_at DESC, uid
LIMIT 100
