#!/usr/bin/env python3
"""Self-check of its-fixture's stream output: an independent structural
reader of QEMU migration streams (shared/spec/qemu-migration-stream.md:
header, CONFIGURATION, RAM records incl. CONTINUE/live re-sends/mapped-ram,
FULL sections sized from the vmdesc, EOF, vmdesc, libvirt header) that
compares what it finds with the writer's manifest (every record, every
block count, every table entry's file_offset and its 8 bytes) and, given
the ELF written from the same spec, the last copy of every sent page with
the ELF's bytes (through shared/tools/fixture_tools.py's ElfDump).

  check-stream.py STREAM MANIFEST [ELF]

Exit status 0 and one "OK ..." line when everything agrees.  For complete
files (not for specs with stream.truncate).
"""
import json, os, struct, sys
SHARED = os.environ.get("ITS_SHARED_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
sys.path.insert(0, os.path.join(SHARED, "tools"))
from fixture_tools import ElfDump  # noqa: E402

def be(b): return int.from_bytes(b, 'big')

class R:
    def __init__(s, m, p): s.m, s.p = m, p
    def take(s, n):
        if s.p + n > len(s.m): raise EOFError('eof at %d reading %d' % (s.p, n))
        b = s.m[s.p:s.p+n]; s.p += n; return b
    def u(s, n): return be(s.take(n))
    def cs(s): return s.take(s.u(1)).decode()

def fail(msg):
    print('FAIL:', msg); sys.exit(1)

def main():
    path, manp = sys.argv[1], sys.argv[2]
    elf = sys.argv[3] if len(sys.argv) > 3 else None
    man = json.load(open(manp)); st = man['stream']
    m = open(path, 'rb').read()
    size = len(m)
    if size != int(man['file_size'], 16): fail('file size %d != manifest %s' % (size, man['file_size']))
    base = 0
    if m[:16] in (b'LibvirtQemudSave', b'LibvirtQemudPart'):
        ver, dlen, run, fmt, cookie = struct.unpack('<5I', m[16:36])
        assert m[36:92] == bytes(56)
        xml = m[92:92+dlen].split(b'\0')[0]
        assert cookie == int(st['libvirt']['cookie_offset'], 16) and len(xml) + 1 == int(st['libvirt']['xml_length'], 16)
        base = 92 + dlen
        L = st['libvirt']
        assert ver == 2 and dlen == int(L['data_len'], 16) and fmt == L['format'] and run == L['was_running']
    else:
        base = m.find(b'QEVM')
    assert base == int(st['stream_offset'], 16), (base, st['stream_offset'])
    r = R(m, base)
    magic, ver = r.u(4), r.u(4)
    assert magic == 0x5145564d and ver == st['header_version']
    recs = []
    def rec(off, typ, **kw):
        d = dict(offset=off, type=typ); d.update(kw); recs.append(d)
    # configuration
    o = r.p; assert r.u(1) == 7
    mach = r.take(r.u(4)).decode(); assert mach == st['machine']
    page_bits = 10; caps = []
    while r.m[r.p] == 5 and r.m[r.p+1] > 14 and r.m[r.p+2:r.p+2+14] == b'configuration/':
        r.take(1); name = r.cs(); assert r.u(4) == 1
        if name == 'configuration/target-page-bits': page_bits = r.u(4)
        elif name == 'configuration/capabilities':
            caps = [r.cs() for _ in range(r.u(4))]
        else: fail('unknown config subsection ' + name)
    rec(o, 'CONFIGURATION', size=r.p - o)
    P = 1 << page_bits; assert P == st['page_size']
    mapped = 'mapped-ram' in caps; assert mapped == st['mapped_ram']
    blocks = {}; order = []
    pages = {}      # (block, off) -> ('zero',) / ('data', fileoff)
    nsent = {}
    recs_data = {}; recs_zero = {}
    last = None; ram_sid = None
    # RAM sections, up to the first FULL section
    while True:
        o = r.p; t = r.u(1)
        if t == 0:
            fail('EOF inside the RAM part at %d' % o)
        if t == 8:
            cmd, ln = r.u(2), r.u(2); r.take(ln); rec(o, 'COMMAND', command=cmd, size=r.p - o); continue
        if t not in (1, 2, 3, 4): fail('record type %d at %d' % (t, o))
        sid = r.u(4); kw = dict(section_id=sid)
        if t in (1, 4):
            idstr = r.cs(); inst = r.u(4); vid = r.u(4)
            kw.update(idstr=idstr, instance_id=inst, version_id=vid)
        name = {1: 'START', 2: 'PART', 3: 'END', 4: 'FULL'}[t]
        if t == 4:
            # FULL sections are parsed below, with the vmdesc
            r.p = o
            break
        if t == 1:
            assert kw['idstr'] == 'ram' and kw['version_id'] == 4
            ram_sid = sid
        else:
            assert sid == ram_sid
        # ram records
        while True:
            h = r.u(8); fl = h & (P - 1); off = h & ~(P - 1)
            if fl & 4:
                total = off; left = total
                while left:
                    bn = r.cs(); used = r.u(8); left -= used
                    b = dict(name=bn, used=used); blocks[bn] = b; order.append(bn)
                    if mapped:
                        b['hdr'] = r.p
                        v, ps, bo, po = struct.unpack('>IQQQ', r.take(28))
                        assert v == 1 and ps == P and bo == b['hdr'] + 28 and po % 0x100000 == 0 and po >= bo + (used // P + 63) // 64 * 8
                        b['bitmap'], b['pages'] = bo, po
                        r.p = po + used
                continue
            if fl == 0x10:
                break
            if not fl & 0x20:
                last = r.cs()
            elif last is None: fail('CONTINUE without block at %d' % (r.p - 8))
            if last not in blocks: fail('unknown block ' + last)
            if off >= blocks[last]['used']: fail('offset beyond block')
            k = (last, off)
            nsent[k] = nsent.get(k, 0) + 1
            if fl & ~0x20 == 2:
                if r.u(1) != 0: fail('zero fill byte')
                pages[k] = ('zero',); recs_zero[last] = recs_zero.get(last, 0) + 1
            elif fl & ~0x20 == 8:
                pages[k] = ('data', r.p); r.take(P); recs_data[last] = recs_data.get(last, 0) + 1
            else: fail('flags 0x%x' % fl)
        ft, fsid = r.u(1), r.u(4)
        if ft != 0x7e: fail('no footer at %d' % (r.p - 5))
        kw['footer_id'] = fsid
        rec(o, name, size=r.p - o, **kw)
    # vmdesc from the end
    desc = None
    if m[-1:] == b'}':
        for q in range(size - 6, max(0, size - (64 << 20)), -1):
            if m[q] == 6 and be(m[q+1:q+5]) == size - (q + 5) and m[q+5:q+6] == b'{':
                desc = json.loads(m[q+5:]); dq = q; break
    if st['vmdesc'] is None:
        assert desc is None
    else:
        assert desc is not None and dq == int(st['vmdesc']['offset'], 16)
        assert desc['page_size'] == P
    # FULL sections
    def fsize(f):
        n = f.get('array_len', 1)
        return f['size'] * n
    def vsize(v):
        s = sum(fsize(f) for f in v['fields'])
        for sub in v.get('subsections', []):
            s += 2 + len(sub['vmsd_name']) + 4 + vsize(sub)
        return s
    i_full = 0
    while True:
        o = r.p; t = r.u(1)
        if t == 0:
            rec(o, 'EOF', size=1); break
        assert t == 4, (t, o)
        sid = r.u(4); idstr = r.cs(); inst = r.u(4); vid = r.u(4)
        if desc:
            d = desc['devices'][i_full]
            assert d['name'] == idstr and d['instance_id'] == inst and d['version'] == vid
            plen = vsize(d)
        else:
            plen = {'arm_gicv3_its': 96}.get(idstr)
            if plen is None:
                # resync on the footer
                q = m.find(b'\x7e' + struct.pack('>I', sid), r.p)
                plen = q - r.p
        po = r.p; r.take(plen)
        ft, fsid = r.u(1), r.u(4)
        assert ft == 0x7e
        rec(o, 'FULL', section_id=sid, idstr=idstr, instance_id=inst, version_id=vid, payload_offset=po, payload_size=plen, footer_id=fsid, size=r.p - o)
        i_full += 1
    if desc:
        assert i_full == len(desc['devices'])
        o = r.p; assert r.u(1) == 6; L = r.u(4); r.take(L); rec(o, 'VMDESCRIPTION', size=r.p - o)
    end = r.p
    assert end == int(st['end_offset'], 16), (end, st['end_offset'])
    # compare records with the manifest
    mr = st['records']
    assert len(mr) == len(recs), (len(mr), len(recs))
    for a, b in zip(recs, mr):
        assert a['offset'] == int(b['offset'], 16) and a['type'] == b['type'], (a, b)
        assert a['size'] == int(b['size'], 16), (a, b)
        for k in ('section_id', 'idstr', 'instance_id', 'version_id', 'command'):
            if k in b: assert a.get(k) == b[k], (k, a, b)
        if 'payload_offset' in b: assert a['payload_offset'] == int(b['payload_offset'], 16)
        if a.get('footer_id') is not None and a['footer_id'] != a['section_id']:
            fc = st.get('footer_corrupt')
            assert fc and fc['written_id'] == a['footer_id'] and fc['section_id'] == a['section_id'], a
            print('  footer corrupt as planned: %s id %d footer %d' % (a.get('idstr', 'ram'), a['section_id'], a['footer_id']))
    # mapped-ram pages
    if mapped:
        for bn, b in blocks.items():
            n = b['used'] // P
            bm = m[b['bitmap']:b['bitmap'] + (n + 63) // 64 * 8]
            for i in range(n):
                k = (bn, i * P)
                if bm[i // 8] >> (i % 8) & 1:
                    pages[k] = ('data', b['pages'] + i * P)
                else:
                    pages[k] = ('zero',)
    # blocks vs manifest
    for mb, bn in zip(st['blocks'], order):
        assert mb['name'] == bn and int(mb['used_length'], 16) == blocks[bn]['used']
        n = blocks[bn]['used'] // P
        data = sum(1 for i in range(n) if pages.get((bn, i * P), ('absent',))[0] == 'data')
        zero = sum(1 for i in range(n) if pages.get((bn, i * P), ('absent',))[0] == 'zero')
        absent = n - data - zero
        resent = sum(1 for i in range(n) if nsent.get((bn, i * P), 0) > 1)
        got = dict(pages_data=data, pages_zero=zero, pages_absent=absent)
        if not mapped:
            got.update(pages_resent=resent, records_data=recs_data.get(bn, 0), records_zero=recs_zero.get(bn, 0))
        for k, v in got.items():
            assert mb[k] == v, (bn, k, mb[k], v)
        if mapped:
            assert int(mb['bitmap_offset'], 16) == blocks[bn]['bitmap'] and int(mb['pages_offset'], 16) == blocks[bn]['pages']
    # table entries: bytes at file_offset = raw, and = the last copy
    def gpa2(g):
        for mb in st['blocks']:
            if mb['gpa'] is None or mb['stream_only']: continue
            b0 = int(mb['gpa'], 16)
            if b0 <= g < b0 + int(mb['used_length'], 16):
                return mb['name'], (g - b0) // P * P, (g - b0) % P
        return None
    nent = 0
    def check_entry(e):
        nonlocal nent
        g = int(e['gpa'], 16); raw = int(e['raw'], 16)
        loc = gpa2(g)
        fo = e.get('file_offset', 'missing')
        assert fo != 'missing'
        if not e['written']:
            assert fo is None; return
        pg = pages.get((loc[0], loc[1]))
        if pg is None or pg[0] == 'zero':
            assert fo is None, e; assert raw == 0 or pg is None, e; return
        want = pg[1] + loc[2]
        assert fo is not None and int(fo, 16) == want, (e, want)
        assert struct.unpack('<Q', m[want:want+8])[0] == raw, e
        nent += 1
    for c in man['collections'] + man['l1']: check_entry(c)
    for d in man['devices']:
        check_entry(d)
        for ev in d['events']: check_entry(ev)
    # GIC / ITS payloads
    for t in st['its']:
        po = int(t['payload_offset'], 16)
        assert m[po + 96] == 0x7e or st.get('footer_corrupt') or st.get('its') is None
    if st['arm_gicv3']:
        for c in st['arm_gicv3']['cpus']:
            pb = be(m[int(c['gicr_propbaser_offset'], 16):][:8]); pe = be(m[int(c['gicr_pendbaser_offset'], 16):][:8])
            print('  cpu %d PROPBASER 0x%x PENDBASER 0x%x' % (c['cpu'], pb, pe))
    # RAM vs ELF
    ndiff = ncmp = 0
    if elf:
        e = ElfDump(elf)
        for mb in st['blocks']:
            if mb['gpa'] is None or mb['stream_only']: continue
            b0 = int(mb['gpa'], 16)
            for i in range(int(mb['used_length'], 16) // P):
                pg = pages.get((mb['name'], i * P))
                if pg is None: continue
                want = bytes(P) if pg[0] == 'zero' else m[pg[1]:pg[1] + P]
                ncmp += 1
                if e.read(b0 + i * P, P) != want: ndiff += 1
    print('OK %s: %d records, %d blocks, %d pages indexed, %d entries located, ram vs elf: %d pages compared, %d differ'
          % (os.path.basename(path), len(recs), len(blocks), len(pages), nent, ncmp, ndiff))
    if ndiff: sys.exit(1)

main()
