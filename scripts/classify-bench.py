#!/usr/bin/env python3
"""`otklik classify` end to end: RawPost JSON lines on stdin, classified posts on stdout.

    scripts/classify-bench.py [--otklik target/release/otklik] [--posts 50000] [--runs 5]
                              [--threads N] [--save-output FILE]

Builds POSTS distinct posts of 400 characters from the repository's labelled and off-topic
classifier fixtures (each post starts with a different text or a different pick of the texts that
follow it, joined by spaces and cut to 400 characters; a seeded, repeatable choice), writes them
as RawPost JSON lines to a temporary file, then runs `otklik classify --config config/demo.toml`
RUNS times with that file as stdin and stdout into /dev/null (or FILE for the first run, to check
that an optimisation leaves the output byte for byte the same). Prints posts/s per run, by wall
clock and by the process's CPU time (user + system; on a shared machine the wall clock also
counts the time the process waited for a core), start-up and rule loading included, and the
medians. `otklik classify` uses every core unless `--threads N` is given: the wall-clock figure is
then the command's throughput, the CPU-time one the work per post. Build the binary
optimised first (`cargo build --release --bin otklik`).

Each run also splits its CPU time by thread (Linux: `/proc/PID/task/*/schedstat`, read every few
milliseconds while the process runs): the stdin reader, the classifier threads and the writer
(the main thread), each in microseconds per post. The reader and the writer are the serial part of
the command: however many cores classify, it cannot pass one post per reader's or writer's
microseconds, and on C cores it cannot pass C posts per microsecond of all its threads together.
"""

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = ["tests/fixtures/classify/labeled.csv", "tests/fixtures/classify/offtopic.csv"]
POST_CHARS = 400


def fixture_texts():
    seen, texts = set(), []
    for name in FIXTURES:
        with open(os.path.join(ROOT, name), newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                text = row["text"].strip()
                if text and text not in seen:
                    seen.add(text)
                    texts.append(text)
    return texts


def posts(texts, n):
    rng = random.Random(16)
    seen = set()
    i = 0
    while len(seen) < n:
        parts, length = [texts[i % len(texts)]], len(texts[i % len(texts)])
        while length < POST_CHARS:
            parts.append(rng.choice(texts))
            length += len(parts[-1]) + 1
        text = " ".join(parts)[:POST_CHARS]
        i += 1
        if text in seen:
            continue
        seen.add(text)
        yield len(seen), text


def raw_post(number, text):
    return {
        "schema": 1,
        "uid": f"tg:bench:{number}",
        "platform": "telegram",
        "source_id": "tg:bench",
        "item_kind": "post",
        "parent_uid": None,
        "url": f"https://t.me/bench/{number}",
        "author": {"id": None, "name": "bench", "is_source": False},
        "published_at": "2024-01-15T05:12:44Z",
        "edited_at": None,
        "edited": False,
        "collected_at": "2024-01-15T06:00:00Z",
        "text": text,
    }


def thread_group(name):
    """The part of `otklik classify` a thread belongs to, by the name the command gives it."""
    if name.startswith("classify-reader"):
        return "reader"
    if name.startswith("classify-"):
        return "classifiers"
    return "writer"


def run_sampled(argv, stdin, stdout):
    """Runs `argv` to its end; returns each thread group's CPU seconds, as last seen in /proc.

    A thread's time is read until it exits, so the last few milliseconds of a thread that ends
    before the process are missed; on runs of a second or more that is under one per cent."""
    proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout)
    last = {}
    task_dir = f"/proc/{proc.pid}/task"
    while proc.poll() is None:
        try:
            for tid in os.listdir(task_dir):
                try:
                    with open(f"{task_dir}/{tid}/comm") as f:
                        name = f.read().strip()
                    with open(f"{task_dir}/{tid}/schedstat") as f:
                        nanos = int(f.read().split()[0])
                except OSError:
                    continue  # the thread has just ended
                last[tid] = (name, nanos)
        except OSError:
            pass  # the process has just ended
        time.sleep(0.005)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    groups = defaultdict(float)
    for name, nanos in last.values():
        groups[thread_group(name)] += nanos / 1e9
    return groups


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--otklik", default=os.path.join(ROOT, "target/release/otklik"))
    ap.add_argument("--posts", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, help="pass --threads N to otklik classify")
    ap.add_argument("--save-output", help="write the first run's stdout here")
    args = ap.parse_args()
    texts = fixture_texts()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as f:
        for number, text in posts(texts, args.posts):
            f.write(json.dumps(raw_post(number, text), ensure_ascii=False) + "\n")
        input_path = f.name
    try:
        size = os.path.getsize(input_path)
        print(f"{args.posts} posts of {POST_CHARS} characters from {len(texts)} fixture texts, {size / 1e6:.1f} MB")
        rates, cpu_rates, by_thread = [], [], defaultdict(list)
        for run in range(args.runs):
            out_path = args.save_output if run == 0 and args.save_output else os.devnull
            with open(input_path, "rb") as stdin, open(out_path, "wb") as stdout:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.monotonic()
                threads = ["--threads", str(args.threads)] if args.threads else []
                argv = [args.otklik, "classify", "--config", os.path.join(ROOT, "config/demo.toml")] + threads
                groups = run_sampled(argv, stdin, stdout)
                seconds = time.monotonic() - started
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            rates.append(args.posts / seconds)
            cpu_rates.append(args.posts / cpu)
            print(f"run {run + 1}: {seconds:.2f} s wall, {rates[-1]:,.0f} posts/s; "
                  f"{cpu:.2f} s on a CPU, {cpu_rates[-1]:,.0f} posts/s")
            for group in ("reader", "classifiers", "writer"):
                by_thread[group].append(groups[group] * 1e6 / args.posts)
            print("       µs of CPU a post: " + ", ".join(f"{g} {v[-1]:.1f}" for g, v in by_thread.items()))
        print(f"median: {statistics.median(rates):,.0f} posts/s wall-clock, "
              f"{statistics.median(cpu_rates):,.0f} posts/s of CPU time")
        per_post = {g: statistics.median(v) for g, v in by_thread.items()}
        serial = max(per_post["reader"], per_post["writer"])
        total = sum(per_post.values())
        print("median µs of CPU a post: " + ", ".join(f"{g} {v:.1f}" for g, v in per_post.items())
              + f"; all threads {total:.1f}")
        print(f"ceilings: the serial reader or writer alone allows {1e6 / serial:,.0f} posts/s; "
              + ", ".join(f"{c} cores {c * 1e6 / total:,.0f}" for c in (1, 2, 4, 8)))
    finally:
        os.unlink(input_path)


if __name__ == "__main__":
    sys.exit(main())
