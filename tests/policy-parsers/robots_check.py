"""Answers can-fetch questions about a robots.txt with CPython's urllib.robotparser (first match,
no * or $). Usage: python3 robots_check.py ROBOTS_FILE CHECKS_FILE (see robots_check.js)."""
import json
import sys
import urllib.robotparser

robots_file, checks_file = sys.argv[1:3]
with open(checks_file, encoding="utf-8") as f:
    checks = json.load(f)["checks"]
parser = urllib.robotparser.RobotFileParser()
with open(robots_file, encoding="utf-8") as f:
    parser.parse(f.read().splitlines())
print(json.dumps([parser.can_fetch(c["agent"], c["url"]) for c in checks]))
