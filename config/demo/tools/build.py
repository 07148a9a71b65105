#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Assembles the otklik demo feeds from the hand-written texts in this directory.

    python3 config/demo/tools/build.py      # rewrites config/demo/feeds/** and sources.toml
    python3 config/demo/tools/validate.py   # parses everything back and prints the counts

The texts live in vk_texts.py, tg_texts.py and ok_texts.py; this script only wraps them in the
response formats (VK API v5.199 JSON, t.me/s HTML, OK REST JSON). Ids, hashes, CDN urls and
access keys are derived deterministically, so re-running it gives byte-identical files.
"""

import base64
import hashlib
import html
import json
import os
import random
import re
import shutil
import sys
import urllib.parse
import zlib
from datetime import datetime, timedelta, timezone

sys.dont_write_bytecode = True  # keep tools/ free of __pycache__

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.dirname(HERE)
FEEDS = os.path.join(DEMO, "feeds")
sys.path.insert(0, HERE)

import ok_texts  # noqa: E402
import tg_texts  # noqa: E402
import vk_texts  # noqa: E402

MSK = timezone(timedelta(hours=3))


def msk(when):
    fmt = "%Y-%m-%d %H:%M:%S" if when.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(when, fmt).replace(tzinfo=MSK)


def unix(when):
    return int(msk(when).timestamp())


def h(seed, n=16):
    return hashlib.sha1(seed.encode("utf-8")).hexdigest()[:n]


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def write_text(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# ============================================================================================
# sources
# ============================================================================================
SOURCES = [
    # VK
    dict(id="vk-penza-adm", platform="vk", handle="-100001", name="Администрация города Пензы", municipality="56701000", official=True, comments="official_posts"),
    dict(id="vk-kuzneck-adm", platform="vk", handle="-100002", name="Администрация города Кузнецка", municipality="56705000", official=True, comments="official_posts"),
    dict(id="vk-zarechny-adm", platform="vk", handle="-100003", name="Администрация ЗАТО г. Заречный", municipality="56734000", official=True, comments="official_posts"),
    dict(id="vk-serdobsk-rn-adm", platform="vk", handle="-100004", name="Администрация Сердобского района", municipality="56656000", official=True, comments="official_posts"),
    dict(id="vk-podslushano-penza", platform="vk", handle="-100005", name="Подслушано Пенза", official=False, comments="all"),
    dict(id="vk-nlomov-news", platform="vk", handle="-100006", name="Нижний Ломов и район | Новости", municipality="56651000", official=False, comments="all"),
    dict(id="vk-podslushano-kuzneck", platform="vk", handle="-100007", name="Подслушано Кузнецк", municipality="56705000", official=False, comments="all"),
    dict(id="vk-arbekovo", platform="vk", handle="-100008", name="Арбеково | Пенза", municipality="56701000", official=False, comments="all"),
    dict(id="vk-penza-online", platform="vk", handle="-100009", name="Пенза онлайн | Новости и объявления", municipality="56701000", official=False, comments="all"),
    dict(id="vk-oktyabrsky-sosedi", platform="vk", handle="-100010", name="Октябрьский район Пензы | Соседи", municipality="56701000", official=False, comments="all"),
    # Telegram
    dict(id="tg-tsur58", platform="telegram", handle="tsur58", name="ЦУР Пензенской области", official=True, comments="none"),
    dict(id="tg-pnz-gorod-news", platform="telegram", handle="pnz_gorod_news", name="Пенза Сегодня | Новости", official=False, comments="none"),
    dict(id="tg-penza-zhkh-zhaloby", platform="telegram", handle="penza_zhkh_zhaloby", name="ЖКХ Пензы: жалобы и вопросы", official=False, comments="none"),
    dict(id="tg-kuzneck-segodnya", platform="telegram", handle="kuzneck_segodnya", name="Кузнецк сегодня", municipality="56705000", official=False, comments="none"),
    dict(id="tg-zarechny-life", platform="telegram", handle="zato_zarechny_life", name="Заречный LIFE", municipality="56734000", official=False, comments="none"),
    # OK
    dict(id="ok-penza-oblast-news", platform="ok", handle="54390000000101", name="Пенза и Пензенская область | Новости", official=False, comments="all"),
    dict(id="ok-kamenka-rn-adm", platform="ok", handle="54390000000102", name="Администрация Каменского района Пензенской области", municipality="56629000", official=True, comments="official_posts"),
    dict(id="ok-nikolsk-nash-gorod", platform="ok", handle="54390000000103", name="Никольск — наш город", official=False, comments="all"),
    dict(id="ok-bessonovka", platform="ok", handle="54390000000104", name="Бессоновка и Бессоновский район", official=False, comments="all"),
]


def toml_str(s):
    return json.dumps(s, ensure_ascii=False)


def write_sources():
    out = ["# otklik demo sources: the feeds replayed by `otklik run --config config/demo.toml`.",
           "# Sample data written for otklik; handles are invented (see config/demo/README.md).",
           "# Built by config/demo/tools/build.py.", ""]
    for s in SOURCES:
        out.append("[[source]]")
        out.append(f"id = {toml_str(s['id'])}")
        out.append(f"platform = {toml_str(s['platform'])}")
        out.append(f"handle = {toml_str(s['handle'])}")
        out.append(f"name = {toml_str(s['name'])}")
        if s.get("municipality"):
            out.append(f"municipality = {toml_str(s['municipality'])}")
        out.append(f"official = {'true' if s['official'] else 'false'}")
        out.append(f"comments = {toml_str(s['comments'])}")
        out.append("")
    write_text(os.path.join(DEMO, "sources.toml"), "\n".join(out))


# ============================================================================================
# VK (API v5.199)
# ============================================================================================
def vk_user_id(alias):
    return 100000000 + zlib.crc32(alias.encode("utf-8")) % 700000000


def vk_author_id(author, owner):
    """ "g" is the wall's own community, "-NNN" another community (a УК answering), else a user alias."""
    if author == "g":
        return owner
    if author.startswith("-"):
        return int(author)
    return vk_user_id(author)


def vk_photo_sizes(seed, w, hgt):
    base = f"https://sun9-{10 + int(h(seed, 2), 16) % 80}.userapi.com/impg/{h(seed + 'a', 40)}/{h(seed + 'b', 11)}.jpg"
    sign = h(seed + "sign", 32)
    sizes = []
    for typ, sw in (("s", 75), ("m", 130), ("x", 604), ("y", 807), ("z", 1080), ("w", w)):
        if sw > w or (typ == "w" and w <= 1080):
            continue
        sh = round(hgt * sw / w)
        sizes.append({"height": sh, "type": typ, "width": sw,
                      "url": f"{base}?size={sw}x{sh}&quality=95&sign={sign}&c_uniq_tag={h(seed + typ, 22)}&type=album"})
    orig = {"height": hgt, "type": "base", "url": f"{base}?size={w}x{hgt}&quality=95&sign={sign}&type=album", "width": w}
    return sizes, orig


def vk_photo(owner, date, post_id, seed):
    w, hgt = random.Random(seed).choice([(1280, 960), (1280, 853), (1080, 1350), (1280, 720)])
    sizes, orig = vk_photo_sizes(seed, w, hgt)
    return {"type": "photo", "photo": {
        "album_id": -7, "date": date, "id": 457239000 + int(h(seed, 4), 16) % 9000, "owner_id": owner,
        "access_key": h(seed + "ak", 18), "post_id": post_id, "sizes": sizes, "text": "",
        "user_id": 100, "web_view_token": h(seed + "wvt", 18), "has_tags": False, "orig_photo": orig}}


def vk_video(owner, date, title, duration, seed):
    img = f"https://sun9-{20 + int(h(seed, 2), 16) % 60}.userapi.com/impf/{h(seed + 'v', 40)}/{h(seed + 'w', 11)}.jpg"
    return {"type": "video", "video": {
        "access_key": h(seed + "ak", 18), "can_comment": 1, "can_like": 1, "can_repost": 1, "can_subscribe": 1,
        "can_add_to_faves": 1, "can_add": 1, "comments": 2, "date": date, "description": "", "duration": duration,
        "image": [{"url": f"{img}?size=130x96&quality=96&keep_aspect_ratio=1&background=000000&sign={h(seed + 's1', 32)}&type=video_thumb", "width": 130, "height": 96, "with_padding": 1},
                  {"url": f"{img}?size=320x240&quality=96&keep_aspect_ratio=1&background=000000&sign={h(seed + 's2', 32)}&type=video_thumb", "width": 320, "height": 240, "with_padding": 1},
                  {"url": f"{img}?size=800x450&quality=96&sign={h(seed + 's3', 32)}&type=video_thumb", "width": 800, "height": 450},
                  {"url": f"{img}?size=1280x720&quality=96&sign={h(seed + 's4', 32)}&type=video_thumb", "width": 1280, "height": 720}],
        "first_frame": [{"url": f"https://sun9-{30 + int(h(seed, 2), 16) % 50}.userapi.com/impf/{h(seed + 'ff', 40)}/{h(seed + 'fg', 11)}.jpg?size=1280x720&quality=95&sign={h(seed + 'fs', 32)}&type=video_first_frame", "width": 1280, "height": 720}],
        "width": 1280, "height": 720, "id": 456239000 + int(h(seed, 3), 16) % 900, "owner_id": owner, "title": title,
        "is_favorite": False, "track_code": "video_" + h(seed + "tc", 40), "type": "video", "views": 3000 + int(h(seed, 4), 16) % 9000}}


def vk_link(url, title, caption, seed):
    sizes, orig = vk_photo_sizes(seed, 1074, 480)
    return {"type": "link", "link": {"url": url, "title": title, "caption": caption, "description": "",
                                     "photo": {"album_id": -28, "date": 1761900000, "id": 457250000 + int(h(seed, 4), 16) % 9000,
                                               "owner_id": 2000000000 + int(h(seed, 5), 16) % 90000, "sizes": sizes, "text": "", "has_tags": False},
                                     "is_favorite": False}}


def vk_attachments(post, owner, date, post_id, seed):
    out = []
    for i, a in enumerate(post.get("att", [])):
        s = f"{seed}:{i}"
        if a == "photo":
            out.append(vk_photo(owner, date, post_id, s))
        elif a.startswith("video:"):
            _, title, dur = a.split(":")
            out.append(vk_video(owner, date, title, int(dur), s))
        elif a.startswith("link:"):
            rest = a[len("link:"):]
            url, title, caption = rest.rsplit(":", 2)
            out.append(vk_link(url, title, caption, s))
    return out


def vk_reactions(likes, seed):
    rnd = random.Random(seed)
    if likes == 0:
        return {"count": 0, "items": []}
    a = max(1, int(likes * rnd.uniform(0.7, 0.9)))
    b = int((likes - a) * rnd.uniform(0.4, 0.7))
    c = likes - a - b
    items = [{"id": 0, "count": a}]
    if b:
        items.append({"id": 1, "count": b})
    if c:
        items.append({"id": 5, "count": c})
    return {"count": likes, "items": items}


def count_comments(cs):
    return sum(1 + count_comments(c["replies"]) for c in cs)


def vk_post_object(post, owner, post_id, comments_count, seed, search=False):
    date = unix(post["when"])
    obj = {"inner_type": "wall_wallpost",
           "comments": {"can_post": 1, "count": comments_count, "groups_can_post": True},
           "marked_as_ads": 1 if post.get("ads") else 0,
           "hash": base64.urlsafe_b64encode(bytes.fromhex(h(seed + "hash", 40))).decode().rstrip("="),
           "type": "post"}
    atts = vk_attachments(post, owner, date, post_id, seed)
    obj["attachments"] = atts
    obj["date"] = date
    if post.get("edited"):
        obj["edited"] = unix(post["edited"])
    # a member's post on an open wall is from the member; everything else is from the community
    from_id = vk_user_id(post["by"]) if post.get("by") else owner
    obj["from_id"] = from_id
    obj["id"] = post_id
    obj["is_favorite"] = False
    if post.get("pinned"):
        obj["is_pinned"] = 1
    obj["likes"] = {"can_like": 1, "count": post.get("likes", 0), "user_likes": 0, "can_publish": 1, "repost_disabled": False}
    obj["reaction_set_id"] = "reactions"
    obj["reactions"] = vk_reactions(post.get("likes", 0), seed)
    obj["owner_id"] = owner
    if owner > 0 or post.get("by"):
        obj["post_source"] = {"platform": random.Random(seed).choice(["android", "iphone"]), "type": "api"}
    else:
        obj["post_source"] = {"type": "vk"}
    obj["post_type"] = "copy" if post.get("copy_from") else "post"
    obj["reposts"] = {"count": post.get("reposts", 0), "wall_count": post.get("reposts", 0), "mail_count": 0, "user_reposted": 0}
    if post.get("signed"):
        obj["signer_id"] = vk_user_id(post["signed"])
    obj["text"] = post["text"]
    obj["views"] = {"count": post.get("views", 0)}
    if post.get("copy_from"):
        cf = post["copy_from"]
        if cf.get("ref"):
            # a repost of a post in the dataset: copy_history carries its real owner, id and author
            origin, cid = VK_KEYED[cf["ref"]]
            cown = int(cf["ref"][0])
            cf = dict(origin, owner=cf["ref"][0])
        else:
            cown = int(cf["owner"])
            cid = 7000 + int(h(seed + "copy", 3), 16) % 900
        cfrom = vk_user_id(cf["by"]) if cf.get("by") else cown
        obj["copy_history"] = [{"inner_type": "wall_wallpost", "type": "post", "attachments": [],
                                "date": unix(cf["when"]), "from_id": cfrom, "id": cid, "owner_id": cown,
                                "post_source": {"type": "vk"}, "post_type": "post", "text": cf["text"]}]
        if cf.get("signed"):
            obj["copy_history"][0]["signer_id"] = vk_user_id(cf["signed"])
    if search:
        obj["can_set_category"] = False
        obj["can_doubt_category"] = False
    return obj


def vk_comment_object(c, owner, post_id, ids, parent=None, reply_to=None):
    cid = ids[id(c)]
    from_id = vk_author_id(c["author"], owner)
    o = {"id": cid, "from_id": from_id, "date": unix(c["when"]), "text": c["text"], "post_id": post_id,
         "owner_id": owner, "parents_stack": [parent] if parent else []}
    if c.get("deleted"):
        o["deleted"] = True
    else:
        o["likes"] = {"can_like": 1, "count": int(h(str(cid) + c["text"], 2), 16) % 12, "user_likes": 0, "can_publish": 1}
    if reply_to is not None:
        o["reply_to_user"] = reply_to[0]
        o["reply_to_comment"] = reply_to[1]
    if parent is None:
        thread_items = []
        seen = [(from_id, cid)]  # a reply answers the latest earlier comment by someone else
        for r in c["replies"]:
            rfrom = vk_author_id(r["author"], owner)
            target = next((x for x in reversed(seen) if x[0] != rfrom), seen[0])
            thread_items.append(vk_comment_object(r, owner, post_id, ids, parent=cid, reply_to=target))
            seen.append((rfrom, ids[id(r)]))
        o["thread"] = {"count": len(c["replies"]), "items": thread_items, "can_post": True,
                       "show_reply_button": True, "groups_can_post": True}
    return o


VK_WALLS = [
    # handle, posts, first id, wall total count, page sizes (newest first)
    ("-100001", vk_texts.PENZA_ADM, 48210, 6214, [7, 7]),
    ("-100002", vk_texts.KUZNECK_ADM, 12880, 2875, [9]),
    ("-100003", vk_texts.ZARECHNY_ADM, 9402, 3390, [7]),
    ("-100004", vk_texts.SERDOBSK_ADM, 3305, 1528, [7]),
    ("-100005", vk_texts.PODSLUSHANO, 231040, 41207, [13, 12]),
    ("-100006", vk_texts.NLOMOV_NEWS, 6120, 4410, [8]),
    ("-100007", vk_texts.PODSLUSHANO_KUZNECK, 87310, 18632, [15, 15, 14]),
    ("-100008", vk_texts.ARBEKOVO, 154020, 27415, [9]),
    ("-100009", vk_texts.PENZA_ONLINE, 402115, 96880, [4]),
    ("-100010", vk_texts.OKTYABRSKY, 20544, 5310, [4]),
]

# (owner, key) -> (post, id) for posts other posts repost (copy_from=dict(ref=(owner, key)))
VK_KEYED = {}


def vk_wall_ids(handle, posts, first_id):
    """Posts and comments share one id sequence per wall, in time order."""
    rnd = random.Random(handle)
    events = []
    for p in posts:
        events.append((p["when"], 0, p))
        for c in p["comments"]:
            events.append((c["when"], 1, c))
            for r in c["replies"]:
                events.append((r["when"], 1, r))
    events.sort(key=lambda e: (msk(e[0]), e[1]))
    ids, nid = {}, first_id
    for _, _, obj in events:
        ids[id(obj)] = nid
        nid += 1 + (rnd.random() < 0.35) * rnd.randint(1, 4)  # gaps: deleted posts/comments
    return ids


def build_vk():
    for handle, posts, first_id, _, _ in VK_WALLS:
        ids = vk_wall_ids(handle, posts, first_id)
        for p in posts:
            if p.get("key"):
                VK_KEYED[(handle, p["key"])] = (p, ids[id(p)])
    for handle, posts, first_id, total, page_sizes in VK_WALLS:
        owner = int(handle)
        ids = vk_wall_ids(handle, posts, first_id)
        pinned = [p for p in posts if p.get("pinned")]
        ordered = pinned + sorted([p for p in posts if not p.get("pinned")], key=lambda p: msk(p["when"]), reverse=True)
        assert sum(page_sizes) == len(ordered), (handle, len(ordered))
        d = os.path.join(FEEDS, "vk", handle)
        pos = 0
        for n, size in enumerate(page_sizes, 1):
            items = []
            for p in ordered[pos:pos + size]:
                pid = ids[id(p)]
                ccount = count_comments(p["comments"]) if p["comments"] else p.get("ncom", 0)
                items.append(vk_post_object(p, owner, pid, ccount, f"{handle}_{pid}"))
            pos += size
            write_json(os.path.join(d, f"{n:02d}-wall.json"), {"response": {"count": total, "items": items}})
        for p in posts:
            if not p["comments"]:
                continue
            pid = ids[id(p)]
            items = [vk_comment_object(c, owner, pid, ids) for c in p["comments"]]
            write_json(os.path.join(d, f"01-comments-{pid}.json"), {"response": {
                "count": count_comments(p["comments"]), "items": items, "current_level_count": len(items),
                "can_post": True, "show_reply_button": True, "groups_can_post": True}})

    # newsfeed.search?q=отопление — one page
    items = []
    for i, p in enumerate(vk_texts.SEARCH_OTOPLENIE):
        o = p["owner"]
        owner = vk_user_id(o[2:]) if o.startswith("u:") else int(o)
        pid = 1200 + int(h(o + p["when"], 4), 16) % 3000
        items.append(vk_post_object(p, owner, pid, p.get("ncom", 0), f"search_{i}", search=True))
    last = items[-1]
    write_json(os.path.join(FEEDS, "vk", "search-otoplenie", "01-search.json"), {"response": {
        "items": items, "count": 1000, "total_count": 4817,
        "next_from": f"8/5_{last['owner_id']}_{last['id']}"}})


# ============================================================================================
# Telegram (t.me/s/<channel> pages)
# ============================================================================================
EMOJI_RE = re.compile("([\u2600-\u27bf\u2b50\u2b55\u2705\u231a-\u23ff\U0001F000-\U0001FAFF]\ufe0f?)")


def emoji_html(e):
    code = "".join(f"{b:02X}" for b in e.replace("\ufe0f", "").encode("utf-8"))
    return f"<i class=\"emoji\" style=\"background-image:url('//telegram.org/img/emoji/40/{code}.png')\"><b>{e}</b></i>"


URL_RE = re.compile(r"(https?://[^\s<]+[^\s<.,!?)»])")
TAG_RE = re.compile(r"(?<![\w/])#([\w]+)")
MENTION_RE = re.compile(r"(?<![\w/])@([A-Za-z][A-Za-z0-9_]{3,})")


def tg_text_html(text):
    s = html.escape(text, quote=True)
    s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s, flags=re.S)
    s = re.sub(r"__(.+?)__", r"<i>\1</i>", s, flags=re.S)

    def url(m):
        u = m.group(1)
        return (f"<a href=\"{u}\" target=\"_blank\" rel=\"noopener\" "
                f"onclick=\"return confirm('Open this link?\\n\\n'+this.href);\">{u}</a>")
    s = URL_RE.sub(url, s)
    s = TAG_RE.sub(lambda m: f"<a href=\"?q=%23{urllib.parse.quote(m.group(1))}\">#{m.group(1)}</a>", s)
    s = MENTION_RE.sub(lambda m: f"<a href=\"https://t.me/{m.group(1)}\">@{m.group(1)}</a>", s)
    s = EMOJI_RE.sub(lambda m: emoji_html(m.group(1)), s)
    return s.replace("\n", "<br/>")


def cdn(seed, ext="jpg"):
    raw = hashlib.sha256(seed.encode()).digest() * 3
    tok = base64.urlsafe_b64encode(raw[:96]).decode().rstrip("=")
    return f"https://cdn{1 + int(h(seed, 1), 16) % 5}.telesco.pe/file/{tok}.{ext}"


def fmt_views(n):
    if n < 1000:
        return str(n)
    k = n / 1000
    if k < 10:
        s = f"{int(k * 100) / 100:.2f}"
    elif k < 100:
        s = f"{int(k * 10) / 10:.1f}"
    else:
        s = f"{int(k)}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s + "K"


BUBBLE_TAIL = """<i class="tgme_widget_message_bubble_tail">
      <svg class="bubble_icon" width="11px" height="20px" viewBox="0 0 11 20">
        <g fill="none">
          <path class="background" fill="#ffffff" d="M11,0 L11,20 L10.5,20 C8.6,19.6 6.6,18.5 4.5,16.7 C3.6,17.3 2.4,17.8 1,18.1 C2.9,16.3 3.3,14.4 3.5,12.9 C3.6,11.6 3,7.3 3,6.5 C3,3.1 6.2,0.3 10.2,0 L11,0 Z"></path>
          <path class="border_1x" fill="#d7e3ec" d="M9,1 L2,1 C1.72,1 1.45,1.11 1.26,1.32 C0.89,1.73 0.91,2.36 1.32,2.73 C3.5,4.73 5.04,6.89 5.95,9.21 C7.12,12.23 7.8,15.16 8,18 L8,20 L9,20 L9,1 Z"></path>
          <path class="border_2x" d="M9,1 L2,1 C1.72,1 1.452,1.118 1.263,1.325 C0.89,1.732 0.917,2.365 1.325,2.738 C3.504,4.733 5.046,6.893 5.95,9.218 C7.124,12.233 7.807,15.161 8,18 L8,20 L9,20 L9,1 Z"></path>
          <path class="border_3x" d="M9,1 L2,1 C1.72,1 1.452,1.118 1.263,1.325 C0.89,1.732 0.917,2.365 1.325,2.738 C3.504,4.733 5.046,6.893 5.95,9.218 C7.124,12.233 7.807,15.161 8,18 L8,20 L9,20 L9,1 Z"></path>
        </g>
      </svg>
    </i>"""


def tg_message_html(ch, info, m):
    mid = m["id"]
    when = msk(m["when"]).astimezone(timezone.utc)
    iso = when.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    hm = when.strftime("%H:%M")
    link = f"https://t.me/{ch}/{mid}"
    view = base64.urlsafe_b64encode(json.dumps({"c": -1000000000000 - int(h(ch, 6), 16), "p": f"{mid}g", "t": int(when.timestamp()), "h": h(f"{ch}{mid}", 18)}, separators=(",", ":")).encode()).decode().rstrip("=")
    initial = info["title"][0]
    service = m.get("service")
    cls = "tgme_widget_message text_not_supported_wrap js-widget_message"
    if service:
        cls = "tgme_widget_message text_not_supported_wrap service_message js-widget_message"
    parts = []
    parts.append(f'<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="{cls}" data-post="{ch}/{mid}" data-view="{view}">')
    parts.append(f'  <div class="tgme_widget_message_user"><a href="https://t.me/{ch}"><i class="tgme_widget_message_user_photo bgcolor{int(h(ch, 1), 16) % 7}" style="background-color:#4e7fc2" data-content="{initial}"><img src="{cdn(ch + "avatar")}"></i></a></div>')
    parts.append('  <div class="tgme_widget_message_bubble">')
    parts.append("    " + BUBBLE_TAIL)
    if service:
        parts.append(f'    <a class="tgme_widget_message_service_photo" href="{link}?single"><img src="{cdn(ch + "newavatar")}"></a>')
        parts.append(f'    <div class="tgme_widget_message_text js-message_text" dir="auto">{html.escape(service)}</div>')
        parts.append('    <div class="tgme_widget_message_footer compact js-message_footer">')
        parts.append('      <div class="tgme_widget_message_info short js-message_info">')
        parts.append(f'        <span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="{link}"><time datetime="{iso}" class="time">{hm}</time></a></span>')
        parts.append('      </div>')
        parts.append('    </div>')
        parts.append('  </div>')
        parts.append('</div></div>')
        return "\n".join(parts)
    parts.append(f'    <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name" href="https://t.me/{ch}"><span dir="auto">{html.escape(info["title"])}</span></a></div>')
    if m.get("forwarded"):
        f = m["forwarded"]
        if f.get("href"):
            parts.append(f'    <div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;<a class="tgme_widget_message_forwarded_from_name" href="{f["href"]}"><span dir="auto">{html.escape(f["name"])}</span></a></div>')
        else:  # a user who hides their account: a name without a link
            parts.append(f'    <div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;<span class="tgme_widget_message_forwarded_from_name" dir="auto">{html.escape(f["name"])}</span></div>')
    if m.get("reply"):
        r = m["reply"]
        parts.append(f'    <a class="tgme_widget_message_reply" href="https://t.me/{ch}/{r["to"]}">')
        parts.append(f'      <div class="tgme_widget_message_author accent_color"><span class="tgme_widget_message_author_name"><span dir="auto">{html.escape(r["author"])}</span></span></div>')
        parts.append(f'      <div class="tgme_widget_message_metatext js-message_reply_text" dir="auto">{html.escape(r["text"])}</div>')
        parts.append('    </a>')
    if m.get("photo"):
        ratio = random.Random(f"{ch}{mid}").choice(["75", "133.33333333333", "56.25", "100"])
        parts.append(f'    <a class="tgme_widget_message_photo_wrap blured js-message_photo" style="width:800px;background-image:url(\'{cdn(f"{ch}{mid}p")}\')" data-ratio="{100 / float(ratio):.13f}" href="{link}">')
        parts.append(f'      <div class="tgme_widget_message_photo" style="padding-top:{ratio}%"></div>')
        parts.append('    </a>')
    if m.get("album"):
        n = m["album"]
        parts.append('    <div class="tgme_widget_message_grouped_wrap js-message_grouped_wrap" data-margin-w="2" data-margin-h="2" style="width:453px;">')
        parts.append('      <div class="tgme_widget_message_grouped js-message_grouped" style="padding-top:100%">')
        parts.append('        <div class="tgme_widget_message_grouped_layer js-message_grouped_layer" style="width:453px;height:453px">')
        for i in range(n):
            parts.append(f'          <a class="tgme_widget_message_photo_wrap grouped_media_wrap blured js-message_photo" style="left:{(i % 2) * 227}px;top:{(i // 2) * 227}px;width:226px;height:226px;margin-right:0;margin-bottom:0;background-image:url(\'{cdn(f"{ch}{mid + i}a")}\')" data-ratio="1.3333333333333" href="https://t.me/{ch}/{mid + i}?single"><div class="grouped_media_helper" style="left:-57px;top:0;width:340px;height:226px;"></div></a>')
        parts.append('        </div>')
        parts.append('      </div>')
        parts.append('    </div>')
    if m.get("video"):
        v = m["video"]
        parts.append(f'    <a class="tgme_widget_message_video_player blured js-message_video_player" href="{link}">')
        parts.append(f'      <i class="tgme_widget_message_video_thumb" style="background-image:url(\'{cdn(f"{ch}{mid}vt")}\')"></i>')
        parts.append(f'      <div class="tgme_widget_message_video_wrap" style="padding-top:177.77777777778%"><video src="{cdn(f"{ch}{mid}v", "mp4")}?token={h(f"{ch}{mid}tok", 40)}" class="tgme_widget_message_video js-message_video" width="100%" height="100%" muted></video></div>')
        parts.append('      <div class="message_video_play"></div>')
        parts.append(f'      <time class="message_video_duration js-message_video_duration">{v["duration"]}</time>')
        parts.append('    </a>')
    if m.get("sticker"):
        parts.append(f'    <div class="tgme_widget_message_sticker_wrap media_supported_cont" style="width:256px;">')
        parts.append(f'      <a class="tgme_widget_message_sticker_wrap" href="{link}"><i class="tgme_widget_message_sticker js-sticker_image" style="width:256px;background-image:url(\'{cdn(f"{ch}{mid}st", "webp")}\')" data-webp="{cdn(f"{ch}{mid}st", "webp")}" data-sticker-emoji="{m["sticker"]}"></i></a>')
        parts.append('    </div>')
    if m.get("unsupported"):
        parts.append('    <div class="message_media_not_supported_wrap">')
        parts.append('      <div class="message_media_not_supported">')
        parts.append('        <div class="message_media_not_supported_label">Please open Telegram to view this post</div>')
        parts.append(f'        <a href="{link}?single" class="message_media_view_in_telegram">VIEW IN TELEGRAM</a>')
        parts.append('      </div>')
        parts.append('    </div>')
    if m.get("poll"):
        p = m["poll"]
        parts.append('    <div class="tgme_widget_message_poll js-poll">')
        parts.append(f'      <div class="tgme_widget_message_poll_question">{html.escape(p["question"])}</div>')
        parts.append(f'      <div class="tgme_widget_message_poll_type">{p["kind"]}</div>')
        for pct, opt in p["options"]:
            parts.append('      <div class="tgme_widget_message_poll_option">')
            parts.append(f'        <div class="tgme_widget_message_poll_option_percent">{pct}</div>')
            parts.append(f'        <div class="tgme_widget_message_poll_option_value"><div class="tgme_widget_message_poll_option_text">{html.escape(opt)}</div></div>')
            parts.append(f'        <div class="tgme_widget_message_poll_option_bar" style="width:{pct}"></div>')
            parts.append('      </div>')
        parts.append('    </div>')
    if m["text"]:
        parts.append(f'    <div class="tgme_widget_message_text js-message_text" dir="auto">{tg_text_html(m["text"])}</div>')
    if m.get("preview"):
        pv = m["preview"]
        parts.append(f'    <a class="tgme_widget_message_link_preview" href="{pv["url"]}">')
        parts.append(f'      <i class="link_preview_right_image" style="background-image:url(\'{cdn(pv["url"])}\')"></i>')
        parts.append(f'      <div class="link_preview_site_name accent_color" dir="auto">{html.escape(pv["site"])}</div>')
        parts.append(f'      <div class="link_preview_title" dir="auto">{html.escape(pv["title"])}</div>')
        parts.append(f'      <div class="link_preview_description" dir="auto">{html.escape(pv["desc"])}</div>')
        parts.append('    </a>')
    parts.append('    <div class="tgme_widget_message_footer compact js-message_footer">')
    parts.append('      <div class="tgme_widget_message_info short js-message_info">')
    if m.get("poll"):
        parts.append(f'        <span class="tgme_widget_message_voters">{m["poll"]["voters"]}</span><span class="copyonly"> votes</span>')
    if m.get("author"):
        parts.append(f'        <span class="tgme_widget_message_from_author" dir="auto">{html.escape(m["author"])}</span><span class="copyonly">, </span>')
    parts.append(f'        <span class="tgme_widget_message_views">{fmt_views(m["views"])}</span><span class="copyonly"> views</span><span class="tgme_widget_message_meta">{"edited &nbsp;" if m.get("edited") else ""}<a class="tgme_widget_message_date" href="{link}"><time datetime="{iso}" class="time">{hm}</time></a></span>')
    parts.append('      </div>')
    parts.append('    </div>')
    parts.append('  </div>')
    parts.append('</div></div>')
    return "\n".join(parts)


def tg_page_html(ch, info, msgs, is_newest, newer_after):
    msgs = sorted(msgs, key=lambda m: m["id"])
    first = msgs[0]["id"]
    title = html.escape(info["title"])
    desc_plain = html.escape(re.sub(r"<[^>]+>", "", info["description"]))
    canonical = f"https://t.me/s/{ch}" if is_newest else f"https://t.me/s/{ch}?before={newer_after}"
    head_links = [f'<link rel="canonical" href="{canonical}"/>', f'<link rel="prev" href="/s/{ch}?before={first}">']
    if not is_newest:
        head_links.append(f'<link rel="next" href="/s/{ch}?after={msgs[-1]["id"]}">')
    counters = "".join(
        f'<div class="tgme_channel_info_counter"><span class="counter_value">{info[k]}</span> <span class="counter_type">{k}</span></div>'
        for k in ("subscribers", "photos", "videos", "links") if info.get(k))
    body = "\n\n".join(tg_message_html(ch, info, m) for m in msgs)
    return f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{title} – Telegram</title>
    <meta name="viewport" content="width=device-width, initial-scale=1.0, minimum-scale=1.0, maximum-scale=1.0, user-scalable=no" />
    <meta name="format-detection" content="telephone=no" />
    <meta http-equiv="X-UA-Compatible" content="IE=edge" />
    <meta name="MobileOptimized" content="176" />
    <meta name="HandheldFriendly" content="True" />
    <meta name="robots" content="noindex, nofollow" />
    <meta property="og:title" content="{title}">
    <meta property="og:image" content="{cdn(ch + "avatar")}">
    <meta property="og:site_name" content="Telegram">
    <meta property="og:description" content="{desc_plain}">
    <meta property="twitter:title" content="{title}">
    <meta property="twitter:image" content="{cdn(ch + "avatar")}">
    <meta property="twitter:site" content="@Telegram">
    <meta property="twitter:description" content="{desc_plain}">
    {chr(10).join("    " + l if i else l for i, l in enumerate(head_links))}
    <link rel="shortcut icon" href="//telegram.org/favicon.ico?3" type="image/x-icon" />
    <link href="//telegram.org/css/font-roboto.css?1" rel="stylesheet" type="text/css">
    <link href="//telegram.org/css/widget-frame.css?72" rel="stylesheet" media="screen">
    <link href="//telegram.org/css/telegram-web.css?40" rel="stylesheet" media="screen">
    <script>TBaseUrl='/';</script>
  </head>
  <body class="widget_frame_base tgme_webpreview emoji_image no_transitions">
    <div class="tgme_background_wrap">
      <canvas id="tgme_background" class="tgme_background default" width="50" height="50" data-colors="dbddbb,6ba587,d5d88d,88b884"></canvas>
      <div class="tgme_background_pattern default"></div>
    </div>
    <header class="tgme_header search_collapsed">
      <div class="tgme_header_search">
        <form class="tgme_header_search_form" action="" method="get">
          <input type="search" name="q" class="tgme_header_search_form_input js-header_search" placeholder="Search" autocomplete="off" value="">
        </form>
      </div>
      <div class="tgme_header_info">
        <a class="tgme_header_link" href="https://t.me/{ch}">
          <i class="tgme_page_photo_image bgcolor{int(h(ch, 1), 16) % 7}" data-content="{title[0]}"><img src="{cdn(ch + "avatar")}"></i>
          <div class="tgme_header_title"><span dir="auto">{title}</span></div>
          <div class="tgme_header_counter">{info["subscribers"]} subscribers</div>
        </a>
      </div>
    </header>
    <main class="tgme_main" data-url="/s/{ch}">
      <div class="tgme_container">
        <div class="tgme_right_column">
          <section class="tgme_right_column_content">
            <div class="tgme_channel_info">
              <div class="tgme_channel_info_header">
                <i class="tgme_page_photo_image bgcolor{int(h(ch, 1), 16) % 7}" data-content="{title[0]}"><img src="{cdn(ch + "avatar")}"></i>
                <div class="tgme_channel_info_header_title_wrap">
                  <div class="tgme_channel_info_header_title"><span dir="auto">{title}</span></div>
                  <div class="tgme_channel_info_header_labels"></div>
                </div>
                <div class="tgme_channel_info_header_username"><a href="https://t.me/{ch}">@{ch}</a></div>
              </div>
              <div class="tgme_channel_info_counters">{counters}</div>
              <div class="tgme_channel_info_description">{info["description"]}</div>
              <div class="tgme_channel_download_telegram">
                <div class="tgme_channel_download_telegram_bottom">to view and join the conversation</div>
              </div>
            </div>
          </section>
        </div>
        <section class="tgme_channel_history js-message_history">
<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/{ch}?before={first}" class="tme_messages_more js-messages_more" data-before="{first}"></a></div>

{body}
        </section>
      </div>
    </main>
    <script src="//telegram.org/js/tgwallpaper.min.js?3"></script>
    <script src="//telegram.org/js/widget-frame.js?66"></script>
    <script src="//telegram.org/js/telegram-web.js?14"></script>
    <script>TWidgetPost.init();TWebPreview.init();</script>
  </body>
</html>
"""


def build_tg():
    for ch, info in tg_texts.CHANNELS.items():
        d = os.path.join(FEEDS, "telegram", ch)
        pages = info["pages"]
        for n, msgs in enumerate(pages, 1):
            newer_after = None
            if n > 1:
                newer_after = min(m["id"] for m in pages[n - 2])
            write_text(os.path.join(d, f"{n:02d}-page.html"), tg_page_html(ch, info, msgs, n == 1, newer_after))


# ============================================================================================
# OK (REST API: mediatopic.getTopics, discussions.getComments)
# ============================================================================================
def ok_topic_id(gid, when):
    # 15-digit ids growing with time, like real group topic ids (155…/156…)
    return str(155000000000000 + (unix(when) - 1700000000) * 10000 + int(h(gid + when, 4), 16) % 10000)


def ok_anchor(seed):
    return base64.b64encode(f"{seed}:{h(seed, 12)}".encode()).decode().rstrip("=")


def ok_photo(gid, topic_id, i):
    pid = str(960000000000000 + int(h(f"{topic_id}{i}", 8), 16) % 10000000000000)
    w, hh = random.Random(pid).choice([(1280, 960), (960, 1280), (1280, 720)])
    url = f"https://i.mycdn.me/i?r={base64.urlsafe_b64encode(hashlib.sha256(pid.encode()).digest()).decode().rstrip('=')}"
    ent = {"id": pid, "ref": f"group_photo:{pid}", "group_id": gid, "standard_width": w, "standard_height": hh,
           "pic128x128": url + "&fn=w_128", "pic640x480": url + "&fn=w_640", "pic_max": url + "&fn=sqr_max", "text": ""}
    return pid, ent


def build_ok():
    for gid, info in ok_texts.GROUPS.items():
        d = os.path.join(FEEDS, "ok", gid)
        pages = info["pages"]
        for n, topics in enumerate(pages, 1):
            mts, photos, users = [], [], {}
            for t in topics:
                tid = ok_topic_id(gid, t["when"])
                media = [{"type": "text", "text": t["text"]}]
                if t.get("photo"):
                    refs = []
                    for i in range(t["photo"]):
                        pid, ent = ok_photo(gid, tid, i)
                        refs.append(f"group_photo:{pid}")
                        photos.append(ent)
                    media.append({"type": "photo", "photo_refs": refs})
                author = f"user:{t['author']}" if t.get("author") else f"group:{gid}"
                if t.get("author"):
                    fn, ln = ok_texts.USERS[t["author"]]
                    users[t["author"]] = {"uid": t["author"], "first_name": fn, "last_name": ln, "name": f"{fn} {ln}"}
                ncom = len(t["comments"]) if t["comments"] else t.get("ncom", 0)
                mts.append({
                    "id": tid,
                    "media": media,
                    "created_ms": unix(t["when"]) * 1000 + int(h(tid, 3), 16) % 1000,
                    "discussion_summary": {"comments_count": ncom},
                    "like_summary": {"count": t.get("likes", 0), "self": False, "like_possible": True, "unlike_possible": True},
                    "reshare_summary": {"count": t.get("reshares", 0), "self": False, "reshare_possible": True},
                    "views_count": t.get("views", 0),
                    "ref": f"media_topic:{tid}",
                    "author_ref": author,
                    "owner_ref": f"group:{gid}",
                    "has_more": False,
                    "is_product": False,
                    "on_moderation": False,
                    "is_commenting_denied": False,
                })
                if t["comments"]:
                    write_ok_comments(d, gid, tid, t)
            entities = {"groups": [{"uid": gid, "name": info["name"],
                                    "pic_avatar": f"https://i.mycdn.me/i?r={h(gid + 'ava', 43)}&fn=w_128"}]}
            if users:
                entities["users"] = list(users.values())
            if photos:
                entities["group_photos"] = photos
            write_json(os.path.join(d, f"{n:02d}-topics.json"), {
                "media_topics": mts, "entities": entities, "has_more": True, "anchor": ok_anchor(f"{gid}:{n}")})


def write_ok_comments(d, gid, tid, t):
    out = []
    ids = []
    for i, c in enumerate(t["comments"]):
        cid = base64.b64encode(f"{tid}:{i + 1}:{h(tid + str(i), 6)}".encode()).decode()
        ids.append(cid)
        when = msk(c["when"])
        author = gid if c["author"] == "g" else c["author"]
        o = {"id": cid, "type": "ACTIVE_MESSAGE", "author_id": author,
             "author_type": "GROUP" if c["author"] == "g" else "USER",
             "text": c["text"], "date": when.strftime("%Y-%m-%d %H:%M:%S"),
             "date_ms": int(when.timestamp()) * 1000, "like_count": c["likes"], "liked_it": False}
        if c["reply_to"] is not None:
            parent = t["comments"][c["reply_to"]]
            o["reply_to_id"] = gid if parent["author"] == "g" else parent["author"]
            o["reply_to_comment_id"] = ids[c["reply_to"]]
        out.append(o)
    write_json(os.path.join(d, f"01-comments-{tid}.json"),
               {"comments": out, "has_more": False, "anchor": ok_anchor(f"{tid}:end")})


def main():
    if os.path.isdir(FEEDS):
        shutil.rmtree(FEEDS)
    write_sources()
    build_vk()
    build_tg()
    build_ok()
    print("built", FEEDS)


if __name__ == "__main__":
    main()
