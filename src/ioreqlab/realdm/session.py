"""A real device model serving a modelled guest: start, wait, access, stop.

Used like this (QEMU answers the PCI host bridge's identity, 8086:1237)::

    host = shared_host()
    g = host.create_domain(memory_mib=128, name="guest")
    qemu = ["/usr/libexec/xen-qemu-system-i386", "-xen-domid", "{domid}",
            "-machine", "xenfv", "-nodefaults", "-display", "none"]
    with DeviceModel(host, g, qemu) as dm:
        dm.access(0, "pio", 0xCF8, 4, write=True, data=0x80000000)
        assert dm.access(0, "pio", 0xCFC, 4, write=False).data == 0x12378086

The device model runs as a child process with the interposition library
preloaded; ``{domid}`` in its arguments becomes the guest's id (also in
``IOREQLAB_DOMID``).  It is *ready* when it wrote ``device-model/<domid>/state
= running`` to xenstore, or — a client that never opened xenstore — when it
enabled an ioreq server for the guest.  Every wait is for an event the fake
signals (a request served, a port notified, the process gone), bounded by a
timeout; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType

from ioreqlab import devicemodel
from ioreqlab.dm.qemu import QemuEmulator
from ioreqlab.host import Host
from ioreqlab.hv.vcpu_io import Access, Status
from ioreqlab.realdm.build import preload_library
from ioreqlab.realdm.fake import FakeXen, Unserved
from ioreqlab.realdm.shm import SharedPages

__all__ = ["BuiltinDeviceModel", "DeviceModel", "DeviceModelError", "shared_host"]


class DeviceModelError(RuntimeError):
    """The device model did not start, answer or stop as it should."""


def shared_host(*, design: str = "p2m", xen: str = "4.17", pages: int = 1 << 20) -> Host:
    """A host whose pages a real device model can map (:class:`SharedPages`)."""
    return Host(design=design, xen=xen, pages=SharedPages(pages))


class DeviceModel:
    """One real device-model process for guest ``domid`` of ``host``."""

    def __init__(
        self,
        host: Host,
        domid: int,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float = 30.0,
        dm_op_ioctl: bool = True,
        map_resource: bool = True,
        stdout: int | None = subprocess.DEVNULL,
        stderr: int | None = None,
        on_event: Callable[[str, dict[str, object]], None] | None = None,
    ) -> None:
        if not argv:
            raise ValueError("no device-model command given")
        self.host = host
        self.domid = domid
        self.timeout = timeout
        self.fake = FakeXen(
            host, dm_op_ioctl=dm_op_ioctl, map_resource=map_resource, on_event=on_event
        )
        self.argv = [a.replace("{domid}", str(domid)) for a in argv]
        self._env = {**os.environ, **(env or {}), **self.fake.environment()}
        self._env["IOREQLAB_DOMID"] = str(domid)
        self._env["LD_PRELOAD"] = " ".join(
            p for p in (str(preload_library()), self._env.get("LD_PRELOAD", "")) if p
        )
        self._stdout = stdout
        self._stderr = stderr
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self._populate_xenstore()

    def _populate_xenstore(self) -> None:
        """What libxl writes before it starts a device model (``libxl_dm.c``)."""
        d = self.host.domains[self.domid]
        xs = self.fake.xenstore
        xs.write("/local/domain/0/name", "Domain-0")
        xs.write("/local/domain/0/domid", "0")
        base = f"/local/domain/{self.domid}"
        xs.write(f"{base}/name", d.name)
        xs.write(f"{base}/domid", str(self.domid))
        xs.write(f"/local/domain/0/device-model/{self.domid}", "")

    # -- life cycle -----------------------------------------------------------

    def __enter__(self) -> DeviceModel:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the process and wait until it is ready (:class:`DeviceModelError` if not)."""
        self.fake.start()
        self.start_process()
        assert self.proc is not None
        if not self.wait_for(self.ready):
            why = "exited" if self.proc.poll() is not None else "timed out"
            self.stop()
            raise DeviceModelError(
                f"device model {why} before it was ready (status {self.returncode})"
            )

    def start_process(self) -> None:
        """Start the process only (the fake must be serving): for clients that just run."""
        try:
            self.proc = subprocess.Popen(
                self.argv, env=self._env, stdout=self._stdout, stderr=self._stderr
            )
        except OSError as err:
            self.fake.close()
            raise DeviceModelError(f"cannot start {self.argv[0]}: {err.strerror}") from err
        threading.Thread(target=self._reap, name="ioreqlab-dm-reaper", daemon=True).start()

    def _reap(self) -> None:
        """Wake every waiter when the process exits."""
        assert self.proc is not None
        self.proc.wait()
        with self.fake.cond:
            self.fake.cond.notify_all()

    def ready(self) -> bool:
        """Whether the device model runs and its event loop has started.

        It runs once it wrote ``state = running`` to xenstore (or, if it never
        opened xenstore, enabled a server).  QEMU writes that during machine
        set-up, before its main loop; a SIGTERM then kills it outright.  So,
        when it bound event channels, it must also have consumed one: Xen
        leaves every new binding pending, and the client's loop reads the
        port and writes it back to unmask it.
        """
        state = self.fake.xenstore.read(f"/local/domain/0/device-model/{self.domid}/state")
        d = self.host.domains.get(self.domid)
        runs = state == b"running" or (
            not self.fake.xenstore_used
            and d is not None
            and any(s.enabled and s.emulator == 0 for s in d.servers)
        )
        bound = [f for f in self.fake.evtchn_files if f.ports]
        return runs and (not bound or any(f.unmasks for f in bound))

    @property
    def unserved(self) -> list[Unserved]:
        """The calls the fake did not serve, in order."""
        return self.fake.unserved

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc is not None and self.proc.poll() is None

    def wait_for(self, cond: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait, holding the fake's lock between checks, until ``cond()`` or the timeout.

        Also returns (False) when the process exits.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self.fake.cond:
            while not cond():
                if self.fake.failure is not None:  # the fake Xen stopped: the model is full
                    raise self.fake.failure
                if not self.alive():
                    return cond()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Woken by every request the fake serves, and by the process's exit.
                self.fake.cond.wait(left)
        return True

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, serve its teardown, wait for it; its exit status (SIGKILL if it hangs)."""
        if self.proc is not None and self.returncode is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.returncode = self.proc.returncode
        self.fake.close()
        return self.returncode

    # -- the guest ----------------------------------------------------------------

    def access(
        self,
        vcpu: int,
        space: str,
        addr: int,
        size: int,
        *,
        write: bool,
        data: int = 0,
        count: int = 1,
        df: bool = False,
        data_is_ptr: bool = False,
        timeout: float | None = None,
    ) -> Access:
        """One guest access, waited for until the emulator answered it (or the timeout)."""
        with self.fake.cond:
            acc = self.host.guest_access(
                self.domid,
                vcpu,
                space,
                addr,
                size,
                write=write,
                data=data,
                count=count,
                df=df,
                data_is_ptr=data_is_ptr,
            )
            if acc.status != Status.PENDING:
                return acc
            box: list[Access] = []

            def answered() -> bool:
                done = self.host.resume_vcpu(self.domid, vcpu)
                if done.status == Status.PENDING:
                    return False
                box.append(done)
                return True

            if self.wait_for(answered, timeout):
                return box[0]
            return acc

    def buffered_drained(self, timeout: float | None = None) -> bool:
        """Wait until the emulator has read every buffered request of the guest's servers."""
        d = self.host.domains[self.domid]

        def drained() -> bool:
            for s in d.servers:
                if s.has_bufioreq and s.enabled:
                    rp = int.from_bytes(s.buffered_page[0:4], "little")
                    wp = int.from_bytes(s.buffered_page[4:8], "little")
                    if rp != wp:
                        return False
            return True

        return self.wait_for(drained, timeout)


class BuiltinDeviceModel:
    """The model's own QEMU-like emulator (``dm/qemu.py``) in the same role.

    Same methods as :class:`DeviceModel`, so a trace can be played on both
    and the logs compared line by line.
    """

    def __init__(self, host: Host, domid: int) -> None:
        self.host = host
        self.domid = domid
        self.emulator = QemuEmulator(devicemodel.open(host, 0), domid)
        self.unserved: list[Unserved] = []

    def start(self) -> None:
        """Create, map and enable the emulator's server."""
        self.emulator.start()

    def stop(self, timeout: float = 10.0) -> int:
        """Disable and destroy the server; the status is always 0."""
        del timeout
        self.emulator.stop()
        return 0

    def access(
        self,
        vcpu: int,
        space: str,
        addr: int,
        size: int,
        *,
        write: bool,
        data: int = 0,
        count: int = 1,
        df: bool = False,
        data_is_ptr: bool = False,
    ) -> Access:
        """One guest access; the emulator answers within the call."""
        acc = self.host.guest_access(
            self.domid,
            vcpu,
            space,
            addr,
            size,
            write=write,
            data=data,
            count=count,
            df=df,
            data_is_ptr=data_is_ptr,
        )
        return self.host.resume_vcpu(self.domid, vcpu) if acc.status == Status.PENDING else acc
