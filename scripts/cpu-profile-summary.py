#!/usr/bin/env python3
# Summarises V8 .cpuprofile files (self time per function, inclusive time per file), e.g. of the
# daemons a benchmark started with TESSERA_CPU_PROF_DIR=DIR: python3 scripts/cpu-profile-summary.py DIR/*.cpuprofile
import json,sys,collections
for f in sys.argv[1:]:
    p=json.load(open(f))
    nodes={n['id']:n for n in p['nodes']}
    dt=collections.Counter()
    for sid,d in zip(p['samples'],p['timeDeltas']): dt[sid]+=d
    total=sum(dt.values())
    self_t=collections.Counter()
    for nid,t in dt.items():
        cf=nodes[nid]['callFrame']
        key=f"{cf['functionName'] or '(anon)'} {cf['url'].split('/')[-1]}:{cf['lineNumber']}"
        self_t[key]+=t
    # inclusive by url file
    parent={}
    for n in p['nodes']:
        for c in n.get('children',[]): parent[c]=n['id']
    incl=collections.Counter()
    for nid,t in dt.items():
        seen=set(); x=nid
        while x is not None:
            cf=nodes[x]['callFrame']; u=cf['url'].split('/')[-1] or cf['functionName']
            if u not in seen: incl[u]+=t; seen.add(u)
            x=parent.get(x)
    print('==',f,'total ms',total/1000, 'idle', self_t.get('(idle) :-1',0)/1000)
    for k,v in self_t.most_common(18): print(f'  self {v/1000:8.1f} {k}')
    for k,v in incl.most_common(25): print(f'  incl {v/1000:8.1f} {k}')
