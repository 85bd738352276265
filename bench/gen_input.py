#!/usr/bin/env python3
"""Writes N realistic contact rows (CSV or NDJSON) to stdout, streaming and deterministic for a seed.

    gen_input.py N [--format csv|ndjson] [--seed S] [--invalid-every K] [--duplicate-every K]

Numbers are distinct E.164 (+1555 and 7+ digits) unless --duplicate-every K repeats an earlier
row's number every K-th row. --invalid-every K makes every K-th row invalid, cycling through the
kinds validation must reject (missing/bad number, no field to set, bad URL, malformed record).
Names carry accents, apostrophes, commas, emoji and right-to-left scripts. Standard library only.
"""
import argparse
import json
import random
import sys

FIRST = ["Avery", "Zoë", "José", "Renée", "Łukasz", "Jürgen", "Siobhán", "D'Arcy", "محمد", "נועה",
         "裕子", "Priya", "Kwame", "Sam 🚀", "Ngọc", "Olivia", "Mateo", "Ingrid", "Björn", "Chloé"]
LAST = ["Johnson", "O'Neil", "Lefèvre", "Groß", "Silva, Jr.", "Nguyễn", "العلي", "כהן", "山田",
        "Whitfield-Smythe", "Fernández", "Bergström", "Mensah", "D'Angelo", "Rossi", "Müller"]
INVALID_KINDS = ["missing_number", "bad_number", "no_fields", "bad_url", "malformed"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("n", type=int, help="number of rows")
    p.add_argument("--format", choices=["csv", "ndjson"], default="csv")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--invalid-every", type=int, default=0, metavar="K")
    p.add_argument("--duplicate-every", type=int, default=0, metavar="K")
    return p.parse_args()


def csv_cell(text):
    if any(c in text for c in ',"\r\n') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def number(i, digits):
    return "+1555" + str(i).zfill(digits)


def main():
    args = parse_args()
    rng = random.Random(args.seed)
    digits = max(7, len(str(max(args.n - 1, 0))))
    # A fixed odd multiplier coprime with 10^digits permutes the indexes: distinct but not sequential.
    modulus = 10 ** digits
    offset = rng.randrange(modulus)
    out = sys.stdout
    if args.format == "csv":
        out.write("phone_number,first_name,last_name,image_url\n")
    invalid_kind = 0
    batch = []
    for i in range(args.n):
        k = i + 1
        phone = number((i * 7919 + offset) % modulus, digits)
        if args.duplicate_every and k % args.duplicate_every == 0 and i > 0:
            phone = number(((i - 1) * 7919 + offset) % modulus, digits)
        row = {"phone_number": phone, "first_name": rng.choice(FIRST), "last_name": rng.choice(LAST),
               "image_url": "https://cdn.example.com/cards/%d.jpg" % i}
        shape = rng.randrange(10)
        if shape == 0:
            del row["last_name"]
        elif shape == 1:
            del row["image_url"]
        malformed = False
        if args.invalid_every and k % args.invalid_every == 0:
            kind = INVALID_KINDS[invalid_kind % len(INVALID_KINDS)]
            invalid_kind += 1
            if kind == "missing_number":
                row["phone_number"] = ""
            elif kind == "bad_number":
                row["phone_number"] = "+1-555-abc-%04d" % (i % 10000)
            elif kind == "no_fields":
                row = {"phone_number": phone}
            elif kind == "bad_url":
                row["image_url"] = "ftp://files.example.com/%d.jpg" % i
            else:
                malformed = True
        if args.format == "csv":
            if malformed:
                batch.append("%s,too,many,fields,here\n" % phone)
            else:
                cells = (row.get(c, "") for c in ("phone_number", "first_name", "last_name", "image_url"))
                batch.append(",".join(csv_cell(c) for c in cells) + "\n")
        else:
            if malformed:
                batch.append('{"phone_number": "%s", "first_name": 42}\n' % phone)
            else:
                batch.append(json.dumps(row, ensure_ascii=False) + "\n")
        if len(batch) >= 4096:
            out.write("".join(batch))
            batch.clear()
    out.write("".join(batch))
    out.flush()


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
