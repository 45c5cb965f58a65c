# Marks one version requirement (vernaux) of an ELF64 shared object weak (VER_FLG_WEAK), so that ld.so loads it with a
# library that lacks that version (a warning from ldd, no error): used for the TorchSharp peer only (run.sh).
import struct, sys
path, want = sys.argv[1], sys.argv[2].encode()
data = bytearray(open(path, 'rb').read())
shoff, = struct.unpack_from('<Q', data, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3A)
secs = [struct.unpack_from('<IIQQQQIIQQ', data, shoff + i * shentsize) for i in range(shnum)]
vr = next(s for s in secs if s[1] == 0x6ffffffe)  # SHT_GNU_verneed
strtab = secs[vr[6]]                              # sh_link: .dynstr
def name(off):
    start = strtab[4] + off
    return bytes(data[start:data.index(0, start)])
pos, done = vr[4], 0
while True:
    vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from('<HHIII', data, pos)
    apos = pos + vn_aux
    for _ in range(vn_cnt):
        vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from('<IHHII', data, apos)
        if name(vna_name) == want:
            struct.pack_into('<H', data, apos + 4, vna_flags | 2)
            done += 1
        apos += vna_next
    if vn_next == 0: break
    pos += vn_next
open(path, 'wb').write(data)
print(f"{want.decode()}: {done} requirement(s) marked weak")
