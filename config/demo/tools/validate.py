#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Checks the demo feeds: every JSON parses, every t.me/s page is consistent; prints item counts."""

import glob
import json
import os
import re
import sys
from html.parser import HTMLParser

DEMO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEEDS = os.path.join(DEMO, "feeds")
errors = []
counts = {}


def add(platform, kind, n):
    counts.setdefault(platform, {}).setdefault(kind, 0)
    counts[platform][kind] += n


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except Exception as e:  # noqa: BLE001
        errors.append(f"{path}: {e}")
        return None


# ---- sources.toml
try:
    import tomllib
    with open(os.path.join(DEMO, "sources.toml"), "rb") as f:
        sources = tomllib.load(f)["source"]
    allowed = {"id", "platform", "handle", "name", "municipality", "official", "comments"}
    for s in sources:
        extra = set(s) - allowed
        if extra:
            errors.append(f"sources.toml: {s['id']}: unknown fields {extra}")
        if s.get("municipality") and not re.fullmatch(r"\d{8}", s["municipality"]):
            errors.append(f"sources.toml: {s['id']}: bad municipality")
        d = os.path.join(FEEDS, s["platform"], s["handle"])
        if not os.path.isdir(d):
            errors.append(f"sources.toml: {s['id']}: no feed dir {d}")
    ids = [s["id"] for s in sources]
    if len(ids) != len(set(ids)):
        errors.append("sources.toml: duplicate ids")
    print("sources:", {p: sum(1 for s in sources if s["platform"] == p) for p in ("vk", "telegram", "ok")})
except ModuleNotFoundError:
    print("(python < 3.11: sources.toml not checked)")

# ---- VK
for path in sorted(glob.glob(os.path.join(FEEDS, "vk", "*", "*.json"))):
    doc = load(path)
    if doc is None:
        continue
    name = os.path.basename(path)
    r = doc["response"]
    if name.endswith("-wall.json") or name.endswith("-search.json"):
        for it in r["items"]:
            if not it["text"] and not it.get("copy_history"):
                errors.append(f"{path}: post {it['id']} has no text")
        add("vk", "posts", len(r["items"]))
    elif "-comments-" in name:
        post_id = int(name.split("-comments-")[1].split(".")[0])
        n = 0
        for c in r["items"]:
            if c["post_id"] != post_id:
                errors.append(f"{path}: comment {c['id']} post_id mismatch")
            n += 0 if c.get("deleted") else 1
            for t in c["thread"]["items"]:
                if t["parents_stack"] != [c["id"]]:
                    errors.append(f"{path}: reply {t['id']} parents_stack")
                n += 1
        if r["count"] != len(r["items"]) + sum(c["thread"]["count"] for c in r["items"]):
            errors.append(f"{path}: count mismatch")
        add("vk", "comments", n)

# ---- Telegram


class TgPage(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.posts, self.wraps, self.services, self.more, self.times = [], 0, 0, None, 0
        self.stack = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if "tgme_widget_message_wrap" in cls:
            self.wraps += 1
        if "tgme_widget_message" in cls and "data-post" in a:
            self.posts.append(a["data-post"])
            if "service_message" in cls:
                self.services += 1
        if "tme_messages_more" in cls:
            self.more = a.get("data-before")
        if tag == "time" and "time" in cls:
            self.times += 1


for path in sorted(glob.glob(os.path.join(FEEDS, "telegram", "*", "*-page.html"))):
    ch = os.path.basename(os.path.dirname(path))
    p = TgPage()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    ids = []
    for dp in p.posts:
        c, _, i = dp.partition("/")
        if c != ch or not i.isdigit():
            errors.append(f"{path}: bad data-post {dp}")
        ids.append(int(i))
    if len(ids) != len(set(ids)):
        errors.append(f"{path}: duplicate data-post")
    if ids != sorted(ids):
        errors.append(f"{path}: posts not in ascending order")
    if p.wraps != len(ids):
        errors.append(f"{path}: {p.wraps} wraps vs {len(ids)} messages")
    if p.times != len(ids):
        errors.append(f"{path}: {p.times} dates vs {len(ids)} messages")
    if p.more is None or int(p.more) != min(ids):
        errors.append(f"{path}: paging link data-before={p.more}, smallest id {min(ids)}")
    add("telegram", "posts", len(ids) - p.services)
    add("telegram", "service messages (not items)", p.services)

# ---- OK
for path in sorted(glob.glob(os.path.join(FEEDS, "ok", "*", "*.json"))):
    doc = load(path)
    if doc is None:
        continue
    name = os.path.basename(path)
    if name.endswith("-topics.json"):
        add("ok", "posts", len(doc["media_topics"]))
        photos = {p["ref"] for p in doc["entities"].get("group_photos", [])}
        users = {u["uid"] for u in doc["entities"].get("users", [])}
        for t in doc["media_topics"]:
            for m in t["media"]:
                for ref in m.get("photo_refs", []):
                    if ref not in photos:
                        errors.append(f"{path}: {ref} missing from entities")
            if t["author_ref"].startswith("user:") and t["author_ref"][5:] not in users:
                errors.append(f"{path}: author {t['author_ref']} missing from entities")
            cf = os.path.join(os.path.dirname(path), f"01-comments-{t['id']}.json")
            if os.path.exists(cf):
                cd = load(cf)
                if cd and len(cd["comments"]) != t["discussion_summary"]["comments_count"]:
                    errors.append(f"{cf}: comments_count mismatch")
    elif "-comments-" in name:
        ids = set()
        for c in doc["comments"]:
            if not re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", c["date"]):
                errors.append(f"{path}: bad date {c['date']}")
            if c.get("reply_to_comment_id") and c["reply_to_comment_id"] not in ids:
                errors.append(f"{path}: dangling reply")
            ids.add(c["id"])
        add("ok", "comments", len(doc["comments"]))

total = 0
for plat, kinds in counts.items():
    items = kinds.get("posts", 0) + kinds.get("comments", 0)
    total += items
    print(f"{plat:9s} {items:4d} items  " + ", ".join(f"{k}: {v}" for k, v in kinds.items()))
print(f"total     {total:4d} items (posts + comments) in {len(glob.glob(os.path.join(FEEDS, '**', '*.*'), recursive=True))} files")
if errors:
    print("\nERRORS:")
    for e in errors:
        print("  " + e)
    sys.exit(1)
print("OK")
