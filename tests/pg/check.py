"""The multi-worker tests' verdict (tests/pg/workers.sh): reads the
instances, the history and the provider's counters from the work folder."""
import json
import sys
from collections import Counter

n, work, what = int(sys.argv[1]), sys.argv[2], sys.argv[3]
FIRST = 12345678


def lines(name):
    with open(f"{work}/{name}") as f:
        return [l.strip() for l in f if l.strip()]


problems = []
states = [l.split("|") for l in lines("states")]
if len(states) != n:
    problems.append(f"{len(states)} instances, expected {n}")
not_off = [s for s in states if s[1] != "off" or s[2] != "off"]
if not_off:
    problems.append(f"{len(not_off)} instances not off, e.g. {not_off[:3]}")
hooks = json.load(open(f"{work}/hooks.json"))["github"].get("o/r", [])
if hooks:
    problems.append(f"{len(hooks)} hooks left at the provider, e.g. {hooks[:3]}")
deletes = Counter({int(k): v for k, v in
                   json.load(open(f"{work}/stats.json"))["delete_counts"].items()})
history = Counter(lines("history"))
inflight = set(lines("inflight"))
dups = []
for k in range(n):
    iid, hid = "i%05d" % k, FIRST + k
    d, h = deletes.get(hid, 0), history.get(iid, 0)
    if d == 0:
        problems.append(f"{iid}: hook {hid} never deleted")
    if d > 1:
        dups.append(iid)
        if iid not in inflight:
            problems.append(f"{iid}: hook deleted {d} times, not in the killed worker's hands")
    # every attempt recorded, but those that died with the killed worker
    if h != d and not (iid in inflight and h == d - 1):
        problems.append(f"{iid}: {d} DELETEs at the provider, {h} in history")
print(f"{what}: {n} instances off, {sum(deletes.values())} DELETEs, "
      f"{sum(history.values())} history attempts; {len(inflight)} held by the "
      f"killed worker, {len(dups)} of them deleted twice")
for p in problems[:20]:
    print("  " + p)
sys.exit(1 if problems else 0)
