#!/usr/bin/env python3
"""Self instructions per function from a callgrind profile, most expensive first (callgrind_annotate
of Debian 12 attributes a multi-threaded Rust profile to `clone`; this reads the file itself).
  callgrind-self.py FILE [N]"""
import sys, re, collections

names = {}; cur = None; selfc = collections.Counter(); incall = False
def name(tok, table):
    m = re.match(r'\((\d+)\)(?: (.*))?', tok)
    if not m: return tok
    i, n = m.group(1), m.group(2)
    if n: table[i] = n
    return table.get(i, i)
fnames = {}
for line in open(sys.argv[1], errors='replace'):
    line = line.rstrip('\n')
    if line.startswith('fn='):
        cur = name(line[3:], fnames); incall = False; continue
    if line.startswith('cfn='):
        name(line[4:], fnames); continue
    if line.startswith('calls='):
        incall = True; continue
    if line and (line[0].isdigit() or line[0] in '+-*'):
        parts = line.split()
        if len(parts) >= 2:
            if incall: incall = False; continue
            try: selfc[cur] += int(parts[1])
            except: pass
tot = sum(selfc.values())
print("total self", tot)
for f, c in selfc.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 40):
    print(f"{100*c/tot:5.1f}%  {f[:150]}")
