"""JSON Lines of N instances due for deregistration, for unhook import:
ids PREFIX00000..., github hooks FIRST, FIRST+1, ... under o/r.

    python3 tests/pg/instances.py N CONNECTION_FILE [PREFIX] [FIRST]
"""
import json
import sys

n, conn = int(sys.argv[1]), sys.argv[2]
prefix = sys.argv[3] if len(sys.argv) > 3 else "i"
first = int(sys.argv[4]) if len(sys.argv) > 4 else 12345678
for k in range(n):
    print(json.dumps({"id": "%s%05d" % (prefix, k), "connector": "github", "event": "push",
                      "options": {"owner": "o", "repo": "r"}, "connection": conn,
                      "registration": {"id": first + k}, "state": "deregistering"}))
