#!/usr/bin/env python3
"""Seeds for fuzz_mice_option and fuzz_mice_demux, written with the
integration test's independent encoder (tests/integration/mice_mh.py):
docs/mice.md §5's worked example, descriptions alone, a Binding Update with
the longest credentials (several fragments), a Binding Acknowledgement, an
unauthenticated BU, and STUN Binding with and without FINGERPRINT.

Run from anywhere: python3 tests/fuzz/gen_mice_seeds.py
"""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))
import mice_mh as mm  # noqa: E402


def main():
    key = b"twist-mice-example-key"
    small = mm.desc_encode("mn01", "M1ceExamplePassword+22", [
        mm.cand(0, 1, 0, 2130706431, "1", "192.0.2.10", 50000)])
    v6 = mm.desc_encode("u" * 256, "P" * 256, [
        mm.cand(i % 4, 1 + i % 2, i % 4, 100 + i, "f" * 32, "2001:db8::%d" % (i + 1), 5000 + i,
                "2001:db8:9::1" if i % 2 else None, 4000 + i if i % 2 else 0)
        for i in range(8)], options="trickle ice2", lite=True)
    seeds = {
        "fuzz_mice_option": {
            "example-bu.bin": mm.example(),
            "desc-v4.bin": small,
            "desc-v6-long.bin": v6,
            "bu-long.bin": mm.mh_build(mm.MH_BU, 9, 150, mm.BU_A | mm.BU_H,
                                       home="2001:db8:1::10", peer="2001:db8:1::20",
                                       desc=v6, spi=0x100, key=key),
            "ba-answer.bin": mm.mh_build(mm.MH_BA, 9, 150, status=0, home="2001:db8:1::20",
                                         peer="2001:db8:1::10", desc=small, spi=0x200, key=key),
            "bu-noauth.bin": mm.mh_build(mm.MH_BU, 1, 10, mm.BU_A, home="192.0.2.7",
                                         desc=small),
        },
        "fuzz_mice_demux": {
            "example-bu.bin": mm.example(),
            "stun-fp.bin": mm.stun_binding(True, bytes(range(12)))[0],
            "stun-nofp.bin": mm.stun_binding(False, bytes(range(12)))[0],
            "ba-status.bin": mm.mh_build(mm.MH_BA, 3, 0, status=144),
        },
    }
    for target, files in seeds.items():
        d = os.path.join(here, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
