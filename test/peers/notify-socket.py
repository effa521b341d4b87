#!/usr/bin/python3
"""A stand-in for systemd's notification socket (sd_notify(3)): binds a datagram Unix socket at
argv[1] and prints each message it receives as a JSON line with its arrival time (ms)."""
import json
import socket
import sys
import time

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
print(json.dumps({"listening": sys.argv[1]}), flush=True)
while True:
    data = sock.recv(4096)
    print(json.dumps({"at": int(time.time() * 1000), "message": data.decode("utf-8", "replace")}), flush=True)
