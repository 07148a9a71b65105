#!/usr/bin/env python3
"""Writes a copy of an eval CSV with the topic of an audit added where the audit says so.

    python3 scripts/eval/apply_audit.py ../shared/data/eval/dev.csv \
        docs/eval/management_company_audit.csv management_company > /tmp/dev-audited.csv
    otklik eval /tmp/dev-audited.csv

The audit (`dev_id,verdict,reason`) lists rows where the classifier's tag was «false» by the
file's labels; `blames` rows meet the topic's definition by their text (see docs/eval/README.md).
Scoring the audited copy shows what the labels' gaps cost, not what the rules gained.
"""
import csv
import sys


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    source, audit, topic = sys.argv[1:]
    with open(audit, newline="", encoding="utf-8") as f:
        meets = {r["dev_id"] for r in csv.DictReader(f) if r["verdict"] == "blames"}
    with open(source, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        writer = csv.DictWriter(sys.stdout, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        added = 0
        for row in reader:
            topics = [t for t in row["topics"].split(";") if t]
            if row["id"] in meets and topic not in topics:
                row["topics"] = ";".join(topics + [topic])
                added += 1
            writer.writerow(row)
    print(f"{added} rows gained {topic}", file=sys.stderr)


if __name__ == "__main__":
    main()
