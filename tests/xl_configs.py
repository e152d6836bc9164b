"""Generated xl.cfg files over the keys the model's xl follows (issue 13).

Each config is a handful of settings drawn from :data:`VALUES`: good values,
edge values (0, -1, a list where a string belongs, prefixes, upper case) and
bad ones, so that accepting, warning and refusing are all reached.  The same
seed gives the same configs.
"""

from __future__ import annotations

import random

#: Candidate right-hand sides per key (xl.cfg syntax).
VALUES: dict[str, tuple[str, ...]] = {
    "type": ('"hvm"', '"pv"', '"pvh"', '"h"', '"p"', '""', '"hv"', '"HVM"', '"xen"', "['hvm']"),
    "builder": ('"hvm"', '"generic"', '"g"', '"linux"', '""'),
    "uuid": (
        '"3e5b2bcb-7a5a-4d0f-9a25-1c1b6b7a4d01"',
        '"3E5B2BCB-7A5A-4D0F-9A25-1C1B6B7A4D01"',
        '"not-a-uuid"',
        '"3e5b2bcb7a5a4d0f9a251c1b6b7a4d01"',
    ),
    "hap": ("0", "1", '"1"', '"yes"', "2"),
    "memory": (
        "128",
        "1024",
        "0",
        '"-1"',
        '"512"',
        "0x100",
        '"08"',
        "9223372036854775807",
        '"99999999999999999999"',
        "['1']",
    ),
    "maxmem": ("256", "2048", "0", '"64"'),
    "vcpus": ("1", "2", "4", "0", '"-1"', "16", '"x"'),
    "maxvcpus": ("1", "2", "8", "0", "32"),
    "on_poweroff": ('"destroy"', '"restart"', '"preserve"', '"rename-restart"', '"bogus"'),
    "on_reboot": ('"restart"', '"destroy"', '"coredump-restart"', "['x']"),
    "on_crash": ('"destroy"', '"preserve"', '"coredump-destroy"', '"soft-reset"'),
    "on_watchdog": ('"destroy"', '"restart"'),
    "on_soft_reset": ('"soft-reset"', '"destroy"', '"soft_reset"'),
    "videoram": ("8", "16", "0", '"x"'),
    "kernel": ('"/boot/vmlinuz"', '"/usr/lib/xen/boot/hvmloader"', '"hvmloader"', '""'),
    "ramdisk": ('"/boot/initrd.img"',),
    "cmdline": ('"console=hvc0"', '""'),
    "root": ('"/dev/xvda1 ro"',),
    "extra": ('"quiet"', '"é=ü"'),
    "bootloader": ('"pygrub"', '""'),
    "acpi": ("0", "1"),
    "timer_mode": (
        '"no_delay_for_missed_ticks"',
        '"DELAY_FOR_MISSED_TICKS"',
        "1",
        "0",
        "3",
        "4",
        "-1",
        '"bogus"',
        "['x']",
    ),
    "nestedhvm": ("0", "1"),
    "pae": ("0", "1"),
    "acpi_s3": ("0", "1"),
    "acpi_s4": ("1",),
    "nx": ("0", "1"),
    "hpet": ("0", "1", '"x"'),
    "vpt_align": ("0", "1"),
    "apic": ("0", "1"),
    "viridian": ("0", "1", '"1"'),
    "altp2mhvm": ("0", "1"),
    "altp2m": ('"mixed"', '"external"', '"LIMITED"', "0", "2", "4", "-1", '"bogus"'),
    "disk": (
        "[ '/img/a.raw,raw,xvda,rw' ]",
        "[ 'format=qcow2, vdev=xvdb, access=ro, target=/i/b.q' ]",
        "[ ',,hdc:cdrom,r' ]",
        "[ 'vdev=hdc, devtype=cdrom' ]",
        "[ 'phy:/dev/vg/x,xvda,w' ]",
        "[ 'raw:/img/c,xvda,rw' ]",
        "[ '/img/a,raw,xvda,rw,extra' ]",
        "[ '/img/a,bogus,xvda' ]",
        "[ 'target=/i/x' ]",
        "[ '/i/a,,xvda,' ]",
        "[ 'vdev=xvda,backendtype=qdisk,target=/x' ]",
        "[ 'foo=bar,/x,raw,xvda' ]",
        "[ 'vdev=xvda, discard, direct-io-safe, target=/x' ]",
        "[ '/x,raw,xvda', '/y,qcow,xvdb,r' ]",
        "[ '/x,raw,xvda', ['nested'], '/z,raw,xvdc' ]",
        "[ 'a=b' ]",
        "[ '' ]",
        "'/x,raw,xvda'",
        "[ 'nbd:host:1,xvda' ]",
        "[ 'x:/y,xvda' ]",
        "[ 'vdev=xvda,format=raw,format=qcow,target=/x' ]",
        "[ ' /x , raw , xvda' ]",
    ),
    "vif": (
        "[ '' ]",
        "[ 'mac=00:16:3e:00:00:01, bridge=xenbr0' ]",
        "[ 'bridge=br0,model=e1000' ]",
        "[ 'type=ioemu,ip=10.0.0.2', 'type=vif' ]",
        "[ 'type=bogus' ]",
        "[ 'mac=00:16:3e:zz' ]",
        "[ 'mac=00:16:3e:00:00:01:ff' ]",
        "[ 'vifname=v0,script=vif-bridge,gatewaydev=eth0' ]",
        "[ 'devid=5', 'mtu=9000' ]",
        "[ 'accel=x,trusted' ]",
        "[ 'untrusted,netdev=eth1' ]",
        "[ 'frob=1' ]",
        "[ 'backend=dom1,,,bridge=b' ]",
        "[ 'a', ['b'], 'c' ]",
        "'bridge=b'",
        "[ 'mac=00:16:3e:00:01:2,bridge=abc' ]",
        "[ 'devid=x' ]",
    ),
    "device_model_version": ('"qemu-xen"', '"qemu-xen-traditional"', '"qemu"'),
    "vnc": ("0", "1"),
    "vnclisten": ('"127.0.0.1"', '"0.0.0.0:1"'),
    "vncdisplay": ("1", "0"),
    "vncpasswd": ('"s3cret"',),
    "vncunused": ("0", "1"),
    "sdl": ("0", "1"),
    "opengl": ("1",),
    "display": ('":0"',),
    "xauthority": ('"/root/.X"',),
    "vga": ('"stdvga"', '"cirrus"', '"none"', '"qxl"', '"vesa"'),
    "stdvga": ("0", "1"),
    "keymap": ('"en-us"',),
    "nographic": ("0", "1"),
    "serial": ("'pty'", "[ 'pty', 'file:/tmp/s' ]", "[ 'pty', ['x'], 'null' ]", "[]"),
}


def config(rng: random.Random) -> str:
    """One config: a name (usually), then 2-9 other settings in random order."""
    keys = rng.sample(sorted(VALUES), rng.randint(2, 9))
    if rng.random() < 0.3:
        keys.append(rng.choice(["type", "kernel", "disk", "vif"]))  # a key given twice
    lines = [] if rng.random() < 0.05 else ['name = "gen"']
    lines += [f"{k} = {rng.choice(VALUES[k])}" for k in keys]
    rng.shuffle(lines)
    return "\n".join(lines) + "\n"


def configs(seed: int, count: int) -> list[str]:
    """``count`` configs from ``seed``."""
    rng = random.Random(seed)
    return [config(rng) for _ in range(count)]


def hvm_config(rng: random.Random) -> str:
    """An HVM guest xl builds (``name``, ``type = "hvm"``), then 2-12 other settings:
    most get as far as the JSON document, so each setting's parse shows in it."""
    keys = rng.sample(sorted(set(VALUES) - {"type", "builder"}), rng.randint(2, 12))
    lines = ['name = "gen"', 'type = "hvm"'] + [f"{k} = {rng.choice(VALUES[k])}" for k in keys]
    return "\n".join(lines) + "\n"


def hvm_configs(seed: int, count: int) -> list[str]:
    """``count`` HVM configs from ``seed``."""
    rng = random.Random(seed)
    return [hvm_config(rng) for _ in range(count)]


#: Pieces a disk spec is made of: keywords, values, prefixes and stray syntax.
DISK_PIECES = (
    "/img/a.raw",
    "raw",
    "qcow",
    "qcow2",
    "vhd",
    "qed",
    "empty",
    "xvda",
    "hdc",
    "hdc:cdrom",
    "xvdb:disk",
    "x:y",
    "r",
    "ro",
    "rw",
    "w",
    "",
    "format=raw",
    "format=vmdk",
    "vdev=xvdc",
    "access=ro",
    "access=x",
    "target=/t",
    "target=/t,x",
    "devtype=cdrom",
    "devtype=disk",
    "devtype=floppy",
    "cdrom",
    "backend=dom0",
    "backendtype=phy",
    "backendtype=tap",
    "backendtype=foo",
    "specification=xen",
    "specification=virtio",
    "specification=v",
    "script=block-x",
    "direct-io-safe",
    "discard",
    "no-discard",
    "colo",
    "no-colo",
    "colo-host=h",
    "colo-port=9",
    "colo-port=x",
    "colo-export=e",
    "active-disk=a",
    "hidden-disk=h",
    "trusted",
    "untrusted",
    "phy:/dev/x",
    "file:/f",
    "tap:aio:/f",
    "tap2:/f",
    "aio:/f",
    "ioemu:/f",
    "tapdisk:/f",
    "raw:/r",
    "qcow2:/q",
    "vhd:/v",
    "iscsi:/i",
    "enbd:/e",
    "drbd:/d",
    "nbd:h:1",
    "foo:/x",
    "foo:x",
    "a=b",
    "a=",
    "=",
    "k=v=w",
    " ",
    "  xvda",
    "xvda ",
    "\t",
    "é",
    "Z",
    "A=b",
)


def disk_spec(rng: random.Random) -> str:
    """A disk spec of 1-6 pieces joined by commas (sometimes spaces)."""
    parts = [rng.choice(DISK_PIECES) for _ in range(rng.randint(1, 6))]
    return rng.choice([",", ", ", ",,"]).join(parts)


def disk_configs(seed: int, count: int) -> list[str]:
    """HVM configs whose disk list holds 1-2 generated specs."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        specs = ", ".join(repr(disk_spec(rng)) for _ in range(rng.randint(1, 2)))
        out.append(f'name = "d"\ntype = "hvm"\ndisk = [ {specs} ]\n')
    return out


#: Disk specs at the parser's edges that random pieces rarely make (issue 17's
#: toolstack-xlu survivors): a ``vdev:devtype`` in the format's place after an
#: empty target, a vdev given twice that way, a cdrom flag undone by ``:disk``,
#: two colons in a vdev, access set twice, and an ``=`` no rule takes, alone or
#: before, after and between newlines (flex's LEXERR state, and its jam on a
#: newline).
DISK_EDGES = (
    ",hdc:cdrom", ",xvdb:disk", ",hdc:cdrom,rw", "vdev=xvdc,,hdc:cdrom", ",vdev=xvdc,hdc:cdrom",
    "cdrom,/img/a.raw,raw,xvdb:disk", "devtype=cdrom,/img/a.raw,raw,hdc:disk",
    "/img/a.raw,raw,a:b:cdrom", "/img/a.raw,raw,a:b:disk", "/img/a.raw,raw,a:b:c",
    "access=ro,access=rw", "/img/a.raw,raw,xvda,ro,access=w", "access=r,access=",
    "/img/a.raw,raw,xvda,r,access=rw", "=", "=x", "=x\ny", "a\n=x", "xvda,=x\ny\nz", "=\n",
    "=\nx", "/t,raw,xvda,=\n\n", "a,=b\n", "\n=", "=\n=", "target=/t\n=x",
    "raw:/r,qcow2", "format=qcow2,raw:/r,xvda", "vhd:/v,,xvda", "cdrom,,hdc", "a=b\n,xvda",
    # COLO's strings: each saved under its own field, and refused when given twice.
    "colo-host=h1,colo-export=e1,hidden-disk=hd1,active-disk=ad1,/img/a.raw,raw,xvda",
    "colo-host=h1,colo-host=h2,/img/a.raw,raw,xvda",
    "colo-export=e1,colo-export=e2,/img/a.raw,raw,xvda",
    "hidden-disk=a,hidden-disk=b,/img/a.raw,raw,xvda",
)  # fmt: skip


def disk_edge_configs() -> list[str]:
    """One HVM config per :data:`DISK_EDGES` spec (a newline written as ``\\n``)."""
    return [
        'name = "d"\ntype = "hvm"\ndisk = [ "' + spec.replace("\n", "\\n") + '" ]\n'
        for spec in DISK_EDGES
    ]


#: Whole configs at the edges of libxl's JSON: a string list whose first item is a
#: list (xl stops there: an empty list, not printed), or a later one.
CONFIG_EDGES = (
    'name = "e"\ntype = "hvm"\nserial = [ [ "b" ] ]\n',
    'name = "e"\ntype = "hvm"\nserial = [ "pty", [ "b" ] ]\n',
    'name = "e"\ntype = "hvm"\nserial = [ ]\n',
    'name = "e"\ntype = "hvm"\nviridian = "x"\n',
    'name = "e"\ntype = "hvm"\nviridian = 1\n',
    'name = "e"\ntype = "pv"\nkernel = "/k"\nvnc = 1\nkeymap = "de"\n',
    'name = "e"\ntype = "hvm"\nkeymap = "de"\n',
    'name = "e"\ntype = "hvm"\ntimer_mode = "-1"\n',
    'name = "e"\ntype = "hvm"\ntimer_mode = 2\n',
    # A long stored in a C int (vncdisplay): the low 32 bits, signed, at 2^31 - 1,
    # 2^31 and 2^32 - 1.
    *(
        f'name = "e"\ntype = "hvm"\nvnc = 1\nvncdisplay = {n}\n'
        for n in (2**31 - 1, 2**31, 2**32 - 1)
    ),
    # A name with every kind of byte yajl escapes: a tab, a quote, a backslash, BEL.
    'name = "e\\t\\"q\\\\\\a"\ntype = "hvm"\n',
    'name = "e"\ntype = "hvm"\nvcpus = 4096\n',  # the model's bound on vcpus, itself
    'name = "e"\ntype = "hvm"\n',  # no memory: libxl's defaults
    # uuid_parse: dashes at 8, 13, 18 and 23 of 36 characters, hex digits elsewhere.
    *(
        f'name = "e"\ntype = "hvm"\nuuid = "{u}"\n'
        for u in (
            "01234567-89AB-cdef-0123-456789ABCDEF",
            "00112233445566778899aabbccddeeff----",
            "X0112233-4455-6677-8899-aabbccddeeff",
            "00112233-4455-6677-8899-aabbccddeef",
        )
    ),
    # mac= as xl's strtoul walk over its copy of the spec reads it: the octet 255, one
    # past it, six octets with the rest of the spec after them, five and the next option.
    *(
        f'name = "e"\ntype = "hvm"\nvif = [ "{spec}" ]\n'
        for spec in (
            "mac=00:16:3e:01:02:ff",
            "mac=00:16:3e:01:02:100",
            "mac=00:16:3e:01:02:03,bridge=br0",
            "mac=00:16:3e:01:02,03",
            "bridge=br0,mac=00:16:3e:01:02:03",
            "mac=0:1:2:3:4:5:6",
            "mac=00:16:3e:01:02:0a:,model=e1000",
            "mac=ff:ff:ff:ff:ff:ff",
            "mac= 0:16: 3e:1:2:3",
            "  bridge=br0, model=e1000",  # strtok's tokens lose their leading spaces only
            "\\tbridge=br0",
            "Xbridge=br0",
            "mac=00:16:3e:01:02,13",
            "bridge=br=0,model=e1000",  # an option's value runs to the comma, '=' and all
        )
    ),
)


#: Pieces that set the same thing in different ways (a keyword, a positional
#: field, a prefix): a spec of two of them is either fine or "X respecified".
PAIRED_PIECES = (
    "/img/a.raw", "target=/t", "raw", "format=raw", "qcow2", "format=qcow2", "raw:/r",
    "xvda", "vdev=xvdc", "hdc:cdrom", "devtype=cdrom", "cdrom", "rw", "access=ro", "r",
    "phy:/dev/x", "backendtype=phy", "backendtype=tap", "backend=dom0", "script=block-x",
    "specification=xen", "discard", "no-discard", "empty",
)  # fmt: skip


def paired_disk_configs() -> list[str]:
    """Every ordered pair of :data:`PAIRED_PIECES` as one spec, alone and with a
    ``target=`` after it, one HVM config each."""
    return [
        f'name = "d"\ntype = "hvm"\ndisk = [ {f"{a},{b}{tail}"!r} ]\n'
        for tail in ("", ",target=/z")
        for a in PAIRED_PIECES
        for b in PAIRED_PIECES
    ]


#: vif options xl's ``parse_nic_config`` knows (and some it does not), with
#: good and bad values; not ``rate=``, which the model refuses (SPEC's deviations).
NIC_TOKENS = (
    "type=vif", "type=ioemu", "type=x", "mac=00:16:3e:01:02:0a", "mac=00:16:3e:zz:00:00",
    "mac=100:16:3e:01:02:03", "bridge=br0", "gatewaydev=eth0", "ip=10.0.0.1",
    "script=vif-bridge", "model=e1000", "netdev=eth1", "forwarddev=f0", "backend=dom1",
    "vifname=v0", "accel=x", "devid=3", "devid=x", "devid=", "mtu=9000", "mtu=-1",
    "trusted", "untrusted", "frob=1", "colo_sock_mirror_id=7", "colo_sock_redirector1_port=9",
    "",
)  # fmt: skip


def nic_pair_configs() -> list[str]:
    """Every ordered pair of :data:`NIC_TOKENS` as one vif spec, one HVM config each."""
    return [
        f'name = "n"\ntype = "hvm"\nvif = [ {f"{a},{b}"!r} ]\n'
        for a in NIC_TOKENS
        for b in NIC_TOKENS
    ]
