#!/usr/bin/python3
"""User-space point-to-point link emulator between two network namespaces (tests only).

Why: this kernel has no sch_netem, so delay/loss cannot be made with `tc`. Instead we make a
TUN device in each namespace and carry the IP packets between them ourselves, impairing them
on the way: a rate cap with a bounded (drop-tail) queue, a one-way delay, random loss, "down".

Usage (Debian's /usr/bin/python3, standard library only, as root):
    link-emulator.py --ns-x NS1 --dev-x TUN1 --ns-y NS2 --dev-y TUN2 [--seed N] [--queue-ms 150]

The emulator ONLY creates the two TUN devices (IFF_TUN | IFF_NO_PI, non-persistent: they vanish
when it exits). The caller configures addresses, routes and `ip link set … up` with `ip` after
it printed {"ready":true}.

Control: one JSON object per line on stdin, applied at once to both directions; one JSON line
is printed on stdout per command:
    {"delayMs":100,"lossPercent":5,"rateKbps":1000}  only the given fields change; 0 = none
    {"down":true} / {"down":false}                    drop everything / carry again
    {"stats":true}                                    counters per direction ("xy", "yx")
Replies: {"ok":true,"settings":{…}} or {"ok":true,"stats":{…}} or {"ok":false,"error":"…"}.
Exits cleanly on stdin EOF or SIGTERM.
"""

import argparse
import ctypes
import fcntl
import heapq
import json
import os
import random
import selectors
import signal
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_PACKET = 65535
# Bounded work per wake-up so one flooding side cannot starve the other or the timers.
READ_BURST = 64

libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


def open_tun_in(netns, name):
    """Opens a TUN device inside netns: the device is born in the netns of the opener."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/var/run/netns/" + netns, os.O_RDONLY)
    try:
        setns(target)
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
        fcntl.ioctl(fd, TUNSETIFF, ifr)
        return fd
    finally:
        # Back home so the second device (and nothing else) lands where it should.
        setns(home)
        os.close(target)
        os.close(home)


class Direction:
    """One way of the cable: packets read from `src` are written, impaired, to `dst`."""

    def __init__(self, src, dst, rng):
        self.src = src
        self.dst = dst
        self.rng = rng
        self.last_departure = 0.0  # when the bottleneck finishes sending the last packet
        self.counters = {
            "received": 0,
            "forwarded": 0,
            "forwardedBytes": 0,
            "lost": 0,
            "droppedQueue": 0,
            "droppedDown": 0,
            "writeErrors": 0,
        }


class Emulator:
    def __init__(self, fd_x, fd_y, seed, queue_ms):
        self.settings = {"delayMs": 0.0, "lossPercent": 0.0, "rateKbps": 0.0, "down": False}
        self.queue_s = queue_ms / 1000.0
        # Separate generators per direction: one side's traffic does not shift the other's draws.
        self.dirs = {
            "xy": Direction(fd_x, fd_y, random.Random(seed)),
            "yx": Direction(fd_y, fd_x, random.Random(seed + 1)),
        }
        self.timers = []  # heap of (due, seq, direction, packet)
        self.seq = 0
        self.stdin_buf = b""

    def ingest(self, d, packet):
        c = d.counters
        c["received"] += 1
        if self.settings["down"]:
            c["droppedDown"] += 1
            return
        now = time.monotonic()
        due = now
        rate = self.settings["rateKbps"]
        if rate > 0:
            start = max(now, d.last_departure)
            # Drop tail: a real bottleneck's buffer holds only so much time of traffic.
            if start - now > self.queue_s:
                c["droppedQueue"] += 1
                return
            d.last_departure = start + len(packet) * 8 / (rate * 1000.0)
            due = d.last_departure
        # Lost on the wire: it still used its slot at the bottleneck above.
        if self.settings["lossPercent"] > 0 and d.rng.random() * 100.0 < self.settings["lossPercent"]:
            c["lost"] += 1
            return
        due += self.settings["delayMs"] / 1000.0
        self.seq += 1
        heapq.heappush(self.timers, (due, self.seq, d, packet))

    def deliver_due(self):
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, d, packet = heapq.heappop(self.timers)
            # A cut also kills what was already in flight.
            if self.settings["down"]:
                d.counters["droppedDown"] += 1
                continue
            try:
                os.write(d.dst, packet)
                d.counters["forwarded"] += 1
                d.counters["forwardedBytes"] += len(packet)
            except OSError:
                # e.g. the far device is administratively down: the packet is gone.
                d.counters["writeErrors"] += 1

    def read_from(self, d):
        for _ in range(READ_BURST):
            try:
                packet = os.read(d.src, MAX_PACKET)
            except BlockingIOError:
                return
            if not packet:
                return
            self.ingest(d, packet)

    def command(self, line):
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                raise ValueError("expected a JSON object")
            if msg.get("stats"):
                return {"ok": True, "stats": {k: dict(d.counters) for k, d in self.dirs.items()}}
            for key in ("delayMs", "lossPercent", "rateKbps"):
                if key in msg:
                    value = float(msg[key])
                    if value < 0 or (key == "lossPercent" and value > 100):
                        raise ValueError("%s out of range: %r" % (key, msg[key]))
                    self.settings[key] = value
            if "down" in msg:
                self.settings["down"] = bool(msg["down"])
            if self.settings["rateKbps"] == 0:
                for d in self.dirs.values():
                    d.last_departure = 0.0
            return {"ok": True, "settings": dict(self.settings)}
        except (ValueError, TypeError) as e:
            return {"ok": False, "error": str(e)}

    def reply(self, obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def read_stdin(self):
        """Returns False on EOF."""
        chunk = os.read(0, 65536)
        if not chunk:
            return False
        self.stdin_buf += chunk
        while b"\n" in self.stdin_buf:
            line, self.stdin_buf = self.stdin_buf.split(b"\n", 1)
            if line.strip():
                self.reply(self.command(line.decode()))
        return True

    def run(self):
        sel = selectors.DefaultSelector()
        for d in self.dirs.values():
            sel.register(d.src, selectors.EVENT_READ, d)
        sel.register(0, selectors.EVENT_READ, None)
        self.reply({"ready": True})
        while True:
            timeout = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - time.monotonic())
            for key, _ in sel.select(timeout):
                if key.data is None:
                    if not self.read_stdin():
                        return
                else:
                    self.read_from(key.data)
            self.deliver_due()


class Terminated(Exception):
    pass


def on_sigterm(_signum, _frame):
    raise Terminated()


def main():
    p = argparse.ArgumentParser(description="user-space L3 link emulator between two netns")
    p.add_argument("--ns-x", required=True)
    p.add_argument("--dev-x", required=True)
    p.add_argument("--ns-y", required=True)
    p.add_argument("--dev-y", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--queue-ms", type=float, default=150.0)
    args = p.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    fd_x = open_tun_in(args.ns_x, args.dev_x)
    fd_y = open_tun_in(args.ns_y, args.dev_y)
    try:
        Emulator(fd_x, fd_y, args.seed, args.queue_ms).run()
    except (Terminated, BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        os.close(fd_x)
        os.close(fd_y)


if __name__ == "__main__":
    main()
